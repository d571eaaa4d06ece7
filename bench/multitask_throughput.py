"""CPU throughput of a model through the shared predictor (no embedding cache).

    python bench/multitask_throughput.py --model DIR [--model DIR2 ...] --dataset /tmp/mt-ds \
        [--n 1000] [--threads 2] [--repeat 3]

Times ``Predictor.predict_batch`` over the first ``--n`` descriptions of the fixed test
sample, in batches of 512 as ``vulntax predict`` does, after one warm-up batch; prints
records/s (median of ``--repeat``), the load average before and after, and the size of
the model's own files.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import multitask_common as common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--dataset", default="/tmp/mt-ds")
    parser.add_argument(
        "--data-dir", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data")
    )
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop("VULNTAX_EMBEDDING_CACHE", None)

    import torch

    from vulntax.dataset.store import load_dataset
    from vulntax.predictor import Predictor

    torch.set_num_threads(args.threads)
    ds = load_dataset(args.dataset)
    texts = ds.columns("test", ["description"])["description"]
    sample = [texts[i] for i in common.test_sample_rows(ds)[: args.n]]
    for model in args.model:
        predictor = Predictor(model, data_dir=args.data_dir)
        predictor.predict_batch([(None, t) for t in sample[:32]])  # warm-up
        rates = []
        load = os.getloadavg()[0]
        for _ in range(args.repeat):
            started = time.perf_counter()
            for i in range(0, len(sample), 512):
                predictor.predict_batch([(None, t) for t in sample[i : i + 512]])
            rates.append(len(sample) / (time.perf_counter() - started))
        size = sum(f.stat().st_size for f in Path(model).rglob("*") if f.is_file())
        print(
            f"{model}: {statistics.median(rates):.0f} records/s (runs {[round(r) for r in rates]}; "
            f"{args.threads} threads; load {load:.1f} -> {os.getloadavg()[0]:.1f}); "
            f"files {size / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
