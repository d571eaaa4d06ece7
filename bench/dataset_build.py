"""Time a full `vulntax dataset build` and report wall time and peak memory.

    python bench/dataset_build.py [--data-dir ../shared/data] [--out /tmp/vulntax-ds] [--repeat 1]

Runs the real command in a subprocess (so start-up counts) and reads the peak resident memory
of that process from the kernel (getrusage of the child). Prints one line per run and the median.
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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--out", default="/tmp/vulntax-bench-ds")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    walls, peaks = [], []
    for run in range(args.repeat):
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "vulntax",
                "dataset",
                "build",
                "--data-dir",
                args.data_dir,
                "--out",
                args.out,
                "--quiet",
            ],
            check=True,
        )
        wall = time.perf_counter() - start
        # the largest peak of any child so far: each run is a fresh child of the same size
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        walls.append(wall)
        peaks.append(peak)
        manifest = json.loads((Path(args.out) / "manifest.json").read_text())
        print(
            f"run {run + 1}: {wall:.1f} s wall, peak RSS {peak:,.0f} MB, "
            f"{manifest['counts']['examples']:,} examples"
        )
    print(
        f"dataset build: median {statistics.median(walls):.1f} s, peak RSS {max(peaks):,.0f} MB "
        f"({os.cpu_count()} CPUs, {platform.machine()}, "
        f"load average at end {os.getloadavg()[0]:.2f})"
    )


if __name__ == "__main__":
    main()
