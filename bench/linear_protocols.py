"""The linear model's held-out figures on both time-split protocols.

    python bench/linear_protocols.py [--data-dir ../shared/data] [--work /tmp/vulntax-bench]

Protocol 1 (the dataset's default split): train < 2022-01-01 <= validation < 2022-07-01 <= test.
Protocol 2 (the newest records): train < 2024-01-01 <= validation < 2024-04-01 <= test.

For each: build the dataset (kept in --work and reused when present), train
configs/linear.toml on its train split (calibrated on validation), evaluate on the test split
with `vulntax evaluate`, and print the headline figures, per label source. The full reports
(JSON, Markdown, plots) stay in --work/<protocol>/eval.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROTOCOLS = {
    "protocol1": ("2022-01-01", "2022-07-01"),
    "protocol2": ("2024-01-01", "2024-04-01"),
}


def vulntax(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "vulntax", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--work", default="/tmp/vulntax-bench")
    parser.add_argument("--config", default=str(REPO / "configs" / "linear.toml"))
    args = parser.parse_args()

    for name, (validation_start, test_start) in PROTOCOLS.items():
        work = Path(args.work) / name
        dataset, model, report = work / "dataset", work / "model", work / "eval"
        if not (dataset / "manifest.json").exists():
            vulntax(
                "dataset",
                "build",
                "--data-dir",
                args.data_dir,
                "--out",
                str(dataset),
                "--validation-start",
                validation_start,
                "--test-start",
                test_start,
                "-q",
            )
        vulntax(
            "train",
            "--config",
            args.config,
            "--dataset",
            str(dataset),
            "--out",
            str(model),
            "--data-dir",
            args.data_dir,
            "--force",
        )
        vulntax(
            "evaluate",
            "--model",
            str(model),
            "--dataset",
            str(dataset),
            "--split",
            "test",
            "--out",
            str(report),
            "--data-dir",
            args.data_dir,
            "-q",
        )
        summary = json.loads((report / "report.json").read_text())
        print(f"\n== {name}: test from {test_start} ({report})")
        for key, row in summary["summary"].items():
            print(f"{key:28s} {row['model']!s:>8}   baseline {row['baseline']!s:>8}")
        for head in ("cwe", "cvss"):
            for source, row in summary[head].get("by_source", {}).items():
                model = row["model"]
                figures = ", ".join(
                    f"{k} {v:.4f}" for k, v in model.items() if isinstance(v, float)
                )
                print(f"{head} gold from {source:4s} ({model['records']:,} records): {figures}")

    print(
        f"\nmachine: {os.cpu_count()} CPUs, {platform.machine()}, load average "
        f"{os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
