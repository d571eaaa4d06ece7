"""Fit the trust checks of a linear model and save them in its directory.

    python bench/robustness/fit_trust.py --model DIR --dataset DATASET [--heldout-model DIR]

Writes DIR/trust.json and DIR/trust.safetensors (src/vulntax/trust/fit.py says how);
prints the measurements. A few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vulntax.trust.fit import fit_trust


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="a linear model directory")
    parser.add_argument("--dataset", required=True, type=Path, help="a built dataset folder")
    parser.add_argument(
        "--heldout-model",
        type=Path,
        default=None,
        help="a model with the same settings trained without the validation split, for the "
        "CVSS threshold (use it when --model was refit on validation, like the shipped one)",
    )
    parser.add_argument("--ood-budget", type=float, default=0.01)
    parser.add_argument("--cvss-budget", type=float, default=0.05)
    args = parser.parse_args()
    trust = fit_trust(
        args.model,
        args.dataset,
        heldout_model=args.heldout_model,
        ood_budget=args.ood_budget,
        cvss_budget=args.cvss_budget,
    )
    trust.save(args.model)
    print(f"wrote {args.model / 'trust.json'} and trust.safetensors")


if __name__ == "__main__":
    main()
