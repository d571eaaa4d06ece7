"""Make the shipped default model: configs/linear-release.toml, installed into the package.

    python bench/release.py --dataset DIR [--data-dir ../shared/data] [--install]

Trains the release configuration on a dataset built with the default (protocol 1) split:
fitted on the train split and calibrated on validation, measured on validation (metrics.json),
then refit on every split so that it knows the newest labels. With --install the model replaces
src/vulntax/default_model/ (check the size budget: 20 MB). The held-out test figures of the same
recipe come from bench/linear_protocols.py.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from shipping import install_model  # noqa: E402

TARGET = REPO / "src" / "vulntax" / "default_model"
BUDGET_MB = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--config", default=str(REPO / "configs" / "linear-release.toml"))
    parser.add_argument("--install", action="store_true", help="replace the shipped model")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "vulntax",
                "train",
                "--config",
                args.config,
                "--dataset",
                args.dataset,
                "--out",
                str(out),
                "--data-dir",
                args.data_dir,
            ],
            check=True,
        )
        install_model(out, TARGET, BUDGET_MB, "release model", args.install)


if __name__ == "__main__":
    main()
