"""Batch throughput, cold start and peak memory of `vulntax predict`.

    python bench/throughput.py --dataset DIR [--split test] [--model DIR] [--repeat 3]
        [--format jsonl --format csv --format cve5]

* **throughput**: the whole split is written once as JSONL (id, description), then
  `vulntax predict --input FILE --output FILE` runs as a fresh process; records/s counts
  start-up, reading, prediction and writing (the fixed corpus is the split's descriptions);
  once per ``--format`` (default jsonl).
* **cold start**: `vulntax predict "TEXT" --json` as a fresh process, wall time.
* **peak memory**: the largest resident set of those processes (getrusage of the children).

Each measurement runs ``--repeat`` times; the median is printed. Timings on a shared machine
swing with its load, so the load average is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEXT = (
    "SQL injection vulnerability in login.php in Acme Portal 2.1 allows remote attackers to "
    "execute arbitrary SQL commands via the username parameter."
)


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one fresh `python -m vulntax` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vulntax", *args], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, max(before.ru_maxrss, after.ru_maxrss) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="a built dataset folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--format", action="append", choices=["jsonl", "csv", "cve5"], help="output format(s)"
    )
    args = parser.parse_args()
    formats = args.format or ["jsonl"]

    from vulntax.dataset.store import load_dataset

    cols = load_dataset(args.dataset, verify=False).columns(args.split, ["id", "description"])
    model_args = ["--model", args.model] if args.model else []
    # cold start first: peak RSS of children only grows, so this order keeps both readable
    cold = [run(["predict", TEXT, "--json", *model_args]) for _ in range(args.repeat)]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        with corpus.open("w", encoding="utf-8") as out:
            for cve, text in zip(cols["id"], cols["description"], strict=True):
                out.write(json.dumps({"id": cve, "description": text}) + "\n")
        n = len(cols["id"])
        batches = {}
        for fmt in formats:
            out = Path(tmp) / f"out.{fmt}"
            batches[fmt] = [
                run(
                    [
                        "predict",
                        "--input",
                        str(corpus),
                        "--output",
                        str(out),
                        "--format",
                        fmt,
                        "--quiet",
                        *model_args,
                    ]
                )
                for _ in range(args.repeat)
            ]
            lines = sum(1 for _ in out.open(encoding="utf-8")) - (fmt == "csv")  # csv: header
            assert lines == n, f"expected {n} output lines, got {lines}"

    print(f"corpus: {n:,} descriptions of the {args.split} split of {args.dataset}")
    for fmt, batch in batches.items():
        wall = statistics.median(w for w, _ in batch)
        print(
            f"batch ({fmt}): {wall:.1f} s wall (median of {args.repeat}) = {n / wall:,.0f} "
            f"records/s including start-up; peak RSS {max(m for _, m in batch):,.0f} MB"
        )
    print(
        f"cold start: {statistics.median(w for w, _ in cold):.2f} s "
        f"(median of {args.repeat}); peak RSS {max(m for _, m in cold):,.0f} MB"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, "
        f"Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
