"""Fit the learnt ATT&CK head and the CAPEC ranker onto a linear model directory.

Usage (from the repository root)::

    python bench/attack/fit.py --model DIR --dataset DS --data-dir ../shared/data
    python bench/attack/fit.py --install --dataset DS --data-dir ../shared/data

Writes ``attack.safetensors``, ``attack.json``, ``capec_rank.safetensors`` and
``capec_rank.json`` into the model directory (``--install``: the shipped default
model, ``src/vulntax/default_model``); the model's own files are not touched.
The work is :func:`vulntax.models.extras_fit.fit_extras`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "src" / "vulntax" / "default_model"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--model", help="a linear model directory")
    target.add_argument("--install", action="store_true", help="the shipped default model")
    parser.add_argument("--dataset", required=True, help="a dataset built by vulntax dataset")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--capec-split", default="validation")
    args = parser.parse_args()

    from vulntax.errors import VulntaxError
    from vulntax.models.extras_fit import fit_extras

    model = DEFAULT_MODEL if args.install else Path(args.model)
    started = time.perf_counter()
    try:
        fit_extras(model, args.dataset, args.data_dir, capec_split=args.capec_split)
    except VulntaxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote the extra heads into {model} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
