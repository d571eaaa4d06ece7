"""Plot recall@k (k = 1…10) on the CTID set from bench/results/attack-cv.json.

Usage (from the repository root)::

    python bench/attack/plot.py [--results bench/results/attack-cv.json] \
        [--out docs/img/attack-recall-at-k.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SYSTEMS = {
    "mapper": "mapper (predicted CWE + CVSS)",
    "mapper_true_cwe": "mapper given the true CWE",
    "frequent": "most frequent techniques",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default="bench/results/attack-cv.json")
    parser.add_argument("--out", default="docs/img/attack-recall-at-k.png")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = json.loads(Path(args.results).read_text())
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, protocol, title in (
        (axes[0], "cv", "grouped 5-fold CV"),
        (axes[1], "year", f"train < {report['year_split']['year']}, test from then"),
    ):
        for system, label in SYSTEMS.items():
            scores = report[protocol][system]["ctid"]["technique"]
            ks = list(range(1, 11))
            values = [scores[f"recall@{k}"] for k in ks]
            ax.plot(ks, values, marker="o", label=label)
            print(protocol, system, " ".join(f"{v:.3f}" for v in values))
        ax.set_title(f"CTID set, {title}")
        ax.set_xlabel("k")
        ax.set_xticks(ks)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("recall@k (exact technique ids)")
    axes[0].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
