"""Data-efficiency curve: 1 %, 5 %, 20 %, 100 % of the training rows, three models.

    VULNTAX_EMBEDDING_CACHE=/tmp/mt-cache python bench/multitask_data_efficiency.py \
        --dataset /tmp/mt-ds --out /tmp/mt-curve [--fractions 0.01,0.05,0.2,1] [--seeds 0]

For each fraction a random subset of the training examples (CWE and CVSS labels alike)
is drawn; the multitask model (all parts on), flat fine-tuning (flat heads over the same
frozen encoder) and the linear model are fitted on it, calibrated on validation and
scored on the fixed test sample. One JSON line per run in ``--out/results.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

import multitask_common as common
from multitask_ablation import VARIANTS, train_one


def fit_linear(env: dict[str, Any], train: Any, out: Path) -> float:
    from vulntax.models.linear import LinearConfig, LinearModel

    meta = {"name": out.name, "version": "bench", "catalog": dict(env["catalog"].versions)}
    started = time.perf_counter()
    model = LinearModel.fit(
        meta,
        LinearConfig(),
        train,
        env["calibration"],
        env["classes"],
        env["catalog"],
        log=lambda m: None,
    )
    seconds = time.perf_counter() - started
    model.save(out)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="/tmp/mt-ds")
    parser.add_argument(
        "--data-dir", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data")
    )
    parser.add_argument("--out", default="/tmp/mt-curve")
    parser.add_argument("--fractions", default="0.01,0.05,0.2,1")
    parser.add_argument("--models", default="multitask,flat_finetune,linear")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--splits", default="test")
    parser.add_argument("--report", action="store_true", help="print the table and stop")
    args = parser.parse_args()
    out = Path(args.out)
    if args.report:
        report(out / "results.jsonl")
        return
    out.mkdir(parents=True, exist_ok=True)
    env = common.setup(args.dataset, args.data_dir)
    full = env["train"]
    for seed in [int(s) for s in args.seeds.split(",")]:
        for fraction in [float(f) for f in args.fractions.split(",")]:
            rng = np.random.default_rng(1000 + seed)
            n = max(20, round(fraction * len(full)))
            rows = np.sort(rng.permutation(len(full))[:n])
            train = common.subset_examples(full, rows)
            for name in args.models.split(","):
                folder = out / f"{name}-f{fraction}-s{seed}"
                if name == "linear":
                    seconds = fit_linear(env, train, folder)
                else:
                    overrides = VARIANTS["full" if name == "multitask" else name]
                    seconds = train_one(env, overrides, seed, folder, train, log=lambda m: None)
                row: dict[str, Any] = {
                    "model": name,
                    "fraction": fraction,
                    "rows": n,
                    "seed": seed,
                    "fit_seconds": round(seconds),
                }
                for split in args.splits.split(","):
                    row[split] = common.evaluate(str(folder), env, split, args.data_dir)
                with (out / "results.jsonl").open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)


KEYS = ["cwe_top1", "cwe_hierarchy", "cvss_mean_metric_accuracy", "capec_recall@5"]


def report(path: Path) -> None:
    """One Markdown table: test figures per fraction and model (the last run of each wins)."""
    runs: dict[tuple[float, str], dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            runs[(row["fraction"], row["model"])] = row
    print("| fraction | rows | model | fit s | " + " | ".join(KEYS) + " |")
    print("|---" * (len(KEYS) + 4) + "|")
    for (fraction, name), row in sorted(runs.items()):
        cells = [f"{row['test'][k]:.3f}" if row["test"].get(k) is not None else "–" for k in KEYS]
        print(
            f"| {fraction:g} | {row['rows']:,} | {name} | {row['fit_seconds']} | "
            + " | ".join(cells)
            + " |"
        )


if __name__ == "__main__":
    main()
