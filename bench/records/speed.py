"""What the stacked heads and the output formats cost, measured in one process.

    python bench/records/speed.py --dataset DIR [--model DIR] [--plain DIR] [--n 8192] [--rounds 5]

Predicts and serialises the first ``--n`` test descriptions in batches of 512 with the model
(default: the shipped one, heads included) and with ``--plain`` (the same model without its
heads), alternating rounds so that both see the same machine load; prints the median
records/s of each (model, format) and the ratio to plain JSONL. Timings on a shared machine
swing with its load: compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", default=None)
    parser.add_argument("--plain", required=True, help="the model directory without heads")
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from vulntax import output
    from vulntax.dataset.store import load_dataset
    from vulntax.predictor import Predictor

    cols = load_dataset(args.dataset, verify=False).columns("test", ["id", "description"])
    items = list(zip(cols["id"], cols["description"], strict=True))[: args.n]
    predictors = {"with heads": Predictor(args.model), "plain": Predictor(args.plain)}
    formats = {name: output.get(name) for name in output.FORMATS}
    rates: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for label, predictor in predictors.items():
            for name, fmt in formats.items():
                start = time.perf_counter()
                for i in range(0, len(items), 512):
                    batch = items[i : i + 512]
                    fmt.serialise(batch, predictor.predict_batch(batch))
                rates.setdefault((label, name), []).append(
                    len(items) / (time.perf_counter() - start)
                )
    base = statistics.median(rates[("plain", "jsonl")])
    for (label, name), values in rates.items():
        rate = statistics.median(values)
        print(
            f"{label:10} {name:5}: {rate:7,.0f} records/s (median of {args.rounds}), "
            f"{rate / base:.2f}× plain jsonl"
        )
    print(f"one process, {len(items):,} descriptions; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
