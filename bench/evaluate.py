"""Benchmark: evaluate a model on a dataset split and print every figure, with timings.

    python bench/evaluate.py --model DIR --dataset DIR [--split test] [--out DIR]

Prints the full Markdown report (model vs majority baseline), then the wall
time of each stage, the throughput and the peak memory, with the machine it ran
on, for docs/ results. ``--data-dir`` (catalogs and ATT&CK gold files) defaults
to ``../shared/data`` next to the repository, as for every benchmark.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model dir (default: shipped)")
    parser.add_argument("--dataset", type=Path, required=True, help="a built dataset")
    parser.add_argument("--split", default="test", help="train, validation or test")
    parser.add_argument("--out", type=Path, default=None, help="write report files and plots")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--batch-size", type=int, default=512)
    args = parser.parse_args(argv)

    from vulntax.errors import VulntaxError
    from vulntax.evaluate import evaluate_dataset
    from vulntax.evaluate.report import markdown
    from vulntax.predictor import Predictor

    try:
        started = time.perf_counter()
        predictor = Predictor(args.model, data_dir=args.data_dir)
        loaded = time.perf_counter() - started
        report = evaluate_dataset(
            predictor, args.dataset, args.split, show_progress=True, batch_size=args.batch_size
        )
        total = time.perf_counter() - started
        if args.out is not None:
            from vulntax.evaluate.plots import write_plots
            from vulntax.evaluate.report import write_report

            written = [*write_report(report, args.out), *write_plots(report, args.out)]
            print(f"wrote {', '.join(p.name for p in written)} to {args.out}", file=sys.stderr)
    except VulntaxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(markdown(report))
    run = report["run"]
    seconds = run["seconds"]
    records = run["gold"]["records"] + run["ctid_records"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("## Timing\n")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    print(f"- machine: {machine}, Python {platform.python_version()}")
    print(f"- model load {loaded:.1f} s; gold and baseline read {seconds['read']:.1f} s")
    print(
        f"- prediction {seconds['predict']:.1f} s for {records:,} records "
        f"({records / max(seconds['predict'], 1e-9):,.0f} records/s)"
    )
    print(f"- scoring {seconds['score']:.1f} s; total {total:.1f} s; peak memory {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
