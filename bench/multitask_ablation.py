"""Ablation of the multitask model's components on cached MiniLM embeddings.

    VULNTAX_EMBEDDING_CACHE=/tmp/mt-cache python bench/multitask_ablation.py \
        --dataset /tmp/mt-ds --out /tmp/mt-runs --seeds 0,1,2 [--variants full,flat]

Each variant × seed is trained (fit on train, calibrated on validation), saved under
``--out``, and scored by the evaluation harness on validation (used for choices) and on
the fixed test sample + the CTID ATT&CK gold set (reported). One JSON line per run is
appended to ``--out/results.jsonl``; ``--report`` prints the table of means ± sd. A run
whose folder exists is not trained again, only scored on ``--splits``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import multitask_common as common

# every component on, then each switched off alone; "flat_finetune" is the plain baseline:
# one flat head per taxonomy over the same frozen encoder, no multitask extras
VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    "no_cross_attention": {"cross_attention": False},
    "no_progressive": {"progressive": False},
    "no_constraint": {"constraint_weight": 0.0},
    "no_distillation": {"distillation": False},
    "no_contrastive": {"contrastive_weight": 0.0},
    "no_kev": {"attack_kev": False},
    "flat_finetune": {
        "cwe_output": "flat", "progressive": False, "constraint_weight": 0.0,
        "cross_attention": False, "distillation": False, "contrastive_weight": 0.0,
        "attack_kev": False,
    },
}  # fmt: skip


# the same trained "full" model, decoded differently (only the temperature is refitted)
DECODINGS = {"full_decode_flat": "flat", "full_decode_levels": "levels"}


def redecode(env: dict[str, Any], source: Path, mode: str, out: Path) -> None:
    import dataclasses

    from vulntax.models import load_model

    model: Any = load_model(source)
    model.params = dataclasses.replace(model.params, cwe_output=mode)
    model.calibrate(env["calibration"], env["classes"])
    model.save(out)


def train_one(
    env: dict[str, Any],
    overrides: dict[str, Any],
    seed: int,
    out: Path,
    train: Any = None,
    log: Any = print,
) -> float:
    from vulntax.config import from_dict
    from vulntax.models.multitask.config import MultitaskConfig
    from vulntax.models.multitask.model import MultitaskModel

    # OMP_NUM_THREADS=1 on a shared machine: two trainings then share the cores fairly
    threads = int(os.environ.get("OMP_NUM_THREADS", "2"))
    params = from_dict(MultitaskConfig, {"threads": threads, **overrides}, "multitask")
    meta = {
        "name": out.name, "version": "bench", "catalog": dict(env["catalog"].versions),
        "training": {"seed": seed}, "dataset": {"path": str(env["dataset"].path)},
    }  # fmt: skip
    started = time.perf_counter()
    model = MultitaskModel.fit(
        meta,
        params,
        train or env["train"],
        env["calibration"],
        env["classes"],
        env["catalog"],
        log=log,
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
    parser.add_argument("--out", default="/tmp/mt-runs")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--variants", default=",".join([*VARIANTS, *DECODINGS]))
    parser.add_argument("--splits", default="validation,test")
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    if args.report:
        report(out / "results.jsonl")
        return
    out.mkdir(parents=True, exist_ok=True)
    env = common.setup(args.dataset, args.data_dir)
    for seed in [int(s) for s in args.seeds.split(",")]:
        for name in args.variants.split(","):
            folder = out / f"{name}-s{seed}"
            row: dict[str, Any] = {"variant": name, "seed": seed}
            if (folder / "config.json").is_file():
                pass  # trained before: scored again on --splits
            elif name in DECODINGS:
                redecode(env, out / f"full-s{seed}", DECODINGS[name], folder)
            else:
                row["fit_seconds"] = round(train_one(env, VARIANTS[name], seed, folder))
            for split in args.splits.split(","):
                row[split] = common.evaluate(str(folder), env, split, args.data_dir)
            with (out / "results.jsonl").open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)


KEYS = [
    "cwe_top1",
    "cwe_hierarchy",
    "cwe_path_violation_rate",
    "cvss_mean_metric_accuracy",
    "capec_recall@5",
    "attack_recall@5",
    "attack_ctid_recall@5",
    "levels_independent_violation_rate",
    "levels_marginal_violation_rate",
]


def report(path: Path, keys: list[str] = KEYS, timings: tuple[str, ...] = ()) -> None:
    """Markdown tables (validation, test) of ``keys``' means ± sd over seeds per variant, and
    the means of the per-run ``timings`` fields (e.g. ``fit_seconds``) where given."""
    import statistics

    merged: dict[tuple[str, int], dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            merged.setdefault((row["variant"], row["seed"]), {}).update(row)
    rows = list(merged.values())
    for split in ("validation", "test"):
        print(f"\n{split}\n| variant | seeds | " + " | ".join([*keys, *timings]) + " |")
        print("|---" * (len(keys) + len(timings) + 2) + "|")
        for name in dict.fromkeys(r["variant"] for r in rows):
            runs = [r[split] for r in rows if r["variant"] == name and split in r]
            if not runs:
                continue
            cells = []
            for key in keys:
                if name == "flat_finetune" and key.startswith("levels_"):
                    cells.append("–")  # no level heads were trained
                    continue
                values = [r[key] for r in runs if r.get(key) is not None]
                if not values:
                    cells.append("–")
                elif len(values) == 1:
                    cells.append(f"{values[0]:.3f}")
                else:
                    cells.append(f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}")
            for key in timings:
                spent = [r[key] for r in rows if r["variant"] == name and key in r]
                cells.append(f"{statistics.mean(spent):.0f}" if spent else "–")
            print(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
