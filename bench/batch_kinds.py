"""Batch throughput and peak memory per model kind and worker start method.

    python bench/batch_kinds.py --model linear=src/vulntax/default_model \\
        --model lsnet=runs/ens-lsnet --input runs/corpus.jsonl [--starts auto,inline,spawn] \\
        [--repeat 3] [--out bench/results/batch-kinds.json]

Each run is a fresh process that loads the model and predicts every record of
``--input`` into a JSON-lines file, as ``vulntax predict --input`` does, with
the default worker count (one per CPU) and the given start method
(:func:`vulntax.batch.pool_plan`): ``auto`` is what ``vulntax predict`` does
(fork for numpy-only models, the calling process for torch models),
``inline`` one process, ``fork`` forked workers, ``spawn`` fresh workers that
each load the model. A run that does not finish within ``--timeout`` seconds
is recorded as a hang. Peak memory is the largest sum of the resident set
sizes of the process and all its workers, sampled every 50 ms. Prints a table;
the medians of ``--repeat`` runs go to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DRIVER = """
import sys
from pathlib import Path
from vulntax.batch import default_workers, items_of, predict_lines
from vulntax.predictor import Predictor
from vulntax.records import IngestReport

model, path, out, start = sys.argv[1:5]
predictor = Predictor(model)
with open(out, "wb") as sink:
    result = predict_lines(
        predictor, items_of(Path(path), IngestReport()), sink, 512, default_workers(), start=start
    )
print(result.lines)
"""


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and every descendant process."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def run_once(model: str, corpus: Path, start: str, timeout: float) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        began = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, model, str(corpus), str(out), start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            if time.perf_counter() - began > timeout:
                subprocess.run(["pkill", "-KILL", "-P", str(proc.pid)], check=False)
                proc.kill()
                proc.wait()
                return {"status": "hang", "seconds": timeout}
            time.sleep(0.05)
        seconds = time.perf_counter() - began
        stdout, stderr = proc.communicate()
        if proc.returncode != 0:
            return {"status": f"failed: {stderr.strip().splitlines()[-1:]}", "seconds": seconds}
        lines = int(stdout.strip().splitlines()[-1])
        return {
            "status": "ok",
            "seconds": seconds,
            "records": lines,
            "records_per_s": lines / seconds,
            "peak_rss_mb": peak / 2**20,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="NAME=DIR (repeatable)")
    parser.add_argument("--input", required=True, type=Path, help="JSONL/CSV/NVD/CVE5 records")
    parser.add_argument("--starts", default="auto,inline,spawn")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    rows = []
    for spec in args.model:
        name, _, folder = spec.partition("=")
        for start in args.starts.split(","):
            runs = [run_once(folder, args.input, start, args.timeout) for _ in range(args.repeat)]
            ok = [r for r in runs if r["status"] == "ok"]
            row: dict[str, object] = {"model": name, "dir": folder, "start": start}
            if len(ok) < len(runs):
                row["status"] = next(r["status"] for r in runs if r["status"] != "ok")
            else:
                row["status"] = "ok"
                for key in ("seconds", "records_per_s", "peak_rss_mb"):
                    row[key] = round(statistics.median(float(r[key]) for r in ok), 2)
                row["records"] = ok[0]["records"]
            rows.append(row)
            print(
                f"{name:24} {start:7} {row['status']:8} "
                + (
                    f"{row['records']:>7,} records  {row['seconds']:7.2f} s  "
                    f"{row['records_per_s']:9,.0f} rec/s  peak {row['peak_rss_mb']:7,.0f} MB"
                    if row["status"] == "ok"
                    else ""
                ),
                flush=True,
            )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "cpus": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
            "repeat": args.repeat,
            "input": str(args.input),
        }
        args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
