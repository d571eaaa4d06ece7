"""Installing a model into the package, within its size budget (bench/release.py,
bench/finetune/accurate.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def install_model(out: Path, target: Path, budget_mb: float, label: str, install: bool) -> None:
    """Print the size of the model directory ``out``; exit if it is over ``budget_mb``; with
    ``install`` replace ``target`` by it."""
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
    print(f"{label}: {size:.1f} MB (budget {budget_mb} MB)")
    if size > budget_mb:
        sys.exit("over the size budget: not installed")
    if install:
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(out, target)
        print(f"installed into {target}")
