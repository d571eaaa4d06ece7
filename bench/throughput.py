"""Batch throughput, cold start and peak memory of `vulntax predict`.

    python bench/throughput.py --dataset DIR [--split test] [--model DIR] [--repeat 3]
        [--baseline-src OLD/src] [--format jsonl --format csv --format cve5]

* **throughput**: the split's descriptions (the fixed corpus) are written once as an NVD 2.0
  feed (``{"vulnerabilities": [{"cve": {"id", "descriptions"}}]}``) and once as JSONL (id,
  description); `vulntax predict --input FILE --output FILE` runs on each as a fresh
  process, once per output ``--format`` (default jsonl); records/s counts start-up, reading,
  prediction and writing.
* **cold start**: `vulntax predict "TEXT" --json` as a fresh process, wall time.
* **peak memory**: the largest resident set of those processes (getrusage of the children).
* **CPU seconds** (user + system, the process and its workers): steadier than wall time
  when other jobs share the machine.

Each measurement runs ``--repeat`` times; the median is printed. With ``--baseline-src``
(the ``src`` folder of another checkout, e.g. ``git archive main src | tar -x -C OLD``) the
same runs alternate with that code, back to back, and the ratios are printed: on a shared
machine they mean more than the absolute figures. The load average is printed too.
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


def run(args: list[str], src: str | None = None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one fresh `python -m vulntax` process."""
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "vulntax", *args], check=True, stdout=subprocess.DEVNULL, env=env
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, max(before.ru_maxrss, after.ru_maxrss) / 1024


def write_corpus(ids: list[str], texts: list[str], folder: Path) -> dict[str, Path]:
    """The corpus as an NVD 2.0 feed and as JSONL."""
    feed = folder / "corpus-nvd.json"
    items = [
        {"cve": {"id": i, "descriptions": [{"lang": "en", "value": t}]}}
        for i, t in zip(ids, texts, strict=True)
    ]
    feed.write_text(
        json.dumps({"format": "NVD_CVE", "version": "2.0", "vulnerabilities": items}),
        encoding="utf-8",
    )
    lines = folder / "corpus.jsonl"
    with lines.open("w", encoding="utf-8") as out:
        for cve, text in zip(ids, texts, strict=True):
            out.write(json.dumps({"id": cve, "description": text}) + "\n")
    return {"NVD 2.0 feed": feed, "JSONL": lines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="a built dataset folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-src", default=None, help="src folder of the code to compare")
    parser.add_argument(
        "--format", action="append", choices=["jsonl", "csv", "cve5"], help="output format(s)"
    )
    args = parser.parse_args()
    formats = args.format or ["jsonl"]

    from vulntax.dataset.store import load_dataset

    cols = load_dataset(args.dataset, verify=False).columns(args.split, ["id", "description"])
    model_args = ["--model", args.model] if args.model else []
    codes: dict[str, str | None] = {"this code": None}
    if args.baseline_src:
        codes["baseline"] = str(Path(args.baseline_src).resolve())
    # cold start first: peak RSS of children only grows, so this order keeps both readable
    cold: dict[str, list[tuple[float, float, float]]] = {name: [] for name in codes}
    for _ in range(args.repeat):
        for name, src in codes.items():
            cold[name].append(run(["predict", TEXT, "--json", *model_args], src))
    n = len(cols["id"])
    batch: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpora = write_corpus(list(cols["id"]), list(cols["description"]), Path(tmp))
        for _ in range(args.repeat):
            for source, corpus in corpora.items():
                for fmt in formats:
                    out = Path(tmp) / f"out.{fmt}"
                    key = f"{source} → {fmt}"
                    for name, src in codes.items():
                        command = ["predict", "--input", str(corpus), "--output", str(out)]
                        command += ["--quiet", *(["--format", fmt] if fmt != "jsonl" else [])]
                        batch.setdefault((key, name), []).append(run([*command, *model_args], src))
                        lines = sum(1 for _ in out.open(encoding="utf-8")) - (fmt == "csv")
                        assert lines == n, f"expected {n} output lines, got {lines}"

    print(f"corpus: {n:,} descriptions of the {args.split} split of {args.dataset}")
    print("| input → output | code | wall s | records/s (start-up incl.) | CPU s | peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|")
    for (fmt, name), runs in batch.items():
        wall = statistics.median(w for w, _, _ in runs)
        cpu = statistics.median(c for _, c, _ in runs)
        rss = max(m for _, _, m in runs)
        print(f"| {fmt} | {name} | {wall:.1f} | {n / wall:,.0f} | {cpu:.1f} | {rss:,.0f} |")
    for name, runs in cold.items():
        print(
            f"cold start ({name}): {statistics.median(w for w, _, _ in runs):.2f} s; "
            f"peak RSS {max(m for _, _, m in runs):,.0f} MB"
        )
    if args.baseline_src:
        for fmt in sorted({key for key, _ in batch}):
            new, old = batch[(fmt, "this code")], batch[(fmt, "baseline")]
            wall_ratio = statistics.median(o[0] / w[0] for w, o in zip(new, old, strict=True))
            cpu_ratio = statistics.median(o[1] / w[1] for w, o in zip(new, old, strict=True))
            print(
                f"{fmt}: baseline / this code, median of paired runs: wall {wall_ratio:.2f}×, "
                f"CPU {cpu_ratio:.2f}×"
            )
    print(
        f"median of {args.repeat}; machine: {os.cpu_count()} CPUs, {platform.machine()}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} "
        "(this benchmark's own processes included)"
    )


if __name__ == "__main__":
    main()
