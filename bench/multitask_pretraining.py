"""Hierarchy-aware pre-training of the from-scratch encoder: with and without, same everything else.

    OMP_NUM_THREADS=1 python bench/multitask_pretraining.py --dataset DS --out /tmp/mt-pre \
        --variants pretrain --seeds 0 &
    OMP_NUM_THREADS=1 python bench/multitask_pretraining.py --dataset DS --out /tmp/mt-pre \
        --variants none --seeds 0
    python bench/multitask_pretraining.py --out /tmp/mt-pre --report

Pre-training (masked-language modelling + the CWE-pillar objective, ``pretraining.py``)
needs a trainable encoder, and a trainable encoder on this 2-core CPU is affordable only
small: a 1-layer, 128-wide scratch Transformer trained with the multitask heads on a fixed
random subset of the training rows (``--rows``, the same subset for every run of a
seed). The two variants differ only in ``pretrain_steps``. Each run is scored like the
ablation (``multitask_common.evaluate``: validation, the fixed 6,000-record test sample,
the CTID gold set); one JSON line per run goes to ``--out/results.jsonl``, the run's
training log to its folder (``train.log``). ``pretrain_seconds`` is the time from the
"pre-training the encoder" message to "inputs ready" (nothing else runs in between for a
trainable encoder). ``--report`` prints the tables of means ± sd over seeds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

import multitask_common as common
from multitask_ablation import report, train_one

KEYS = [
    "cwe_top1", "cwe_hierarchy", "cvss_mean_metric_accuracy", "capec_recall@5",
    "attack_ctid_recall@5",
]  # fmt: skip
TIMINGS = ("fit_seconds", "pretrain_seconds")

SMALL_SCRATCH: dict[str, Any] = {
    "encoder": "scratch", "scratch_vocab": 6000, "scratch_layers": 1, "scratch_dim": 128,
    "scratch_heads": 4, "max_length": 96, "epochs": 4, "progressive_epochs": 1,
    "teacher_epochs": 2, "batch_size": 64, "lr": 2e-3, "encoder_lr": 5e-4,
}  # fmt: skip
DATA = str(Path(__file__).resolve().parents[1].parent / "shared" / "data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="/tmp/lsn/dataset")
    parser.add_argument("--data-dir", default=DATA)
    parser.add_argument("--out", default="/tmp/mt-pre")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--variants", default="none,pretrain")
    parser.add_argument("--rows", type=int, default=8000, help="training rows (random subset)")
    parser.add_argument("--steps", type=int, default=300, help="pre-training steps")
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    if args.report:
        report(out / "results.jsonl", KEYS, TIMINGS)
        return
    out.mkdir(parents=True, exist_ok=True)
    env = common.setup(args.dataset, args.data_dir)
    full = env["train"]
    for seed in [int(s) for s in args.seeds.split(",")]:
        rng = np.random.default_rng(2000 + seed)
        rows = np.sort(rng.permutation(len(full))[: args.rows])
        train = common.subset_examples(full, rows)
        for name in args.variants.split(","):
            steps = {"none": 0, "pretrain": args.steps}[name]
            folder = out / f"{name}-s{seed}"
            started = time.perf_counter()
            lines: list[tuple[float, str]] = []

            def log(message: str, keep: list[tuple[float, str]] = lines) -> None:
                keep.append((time.perf_counter(), message))
                print(message, flush=True)

            seconds = train_one(
                env, {**SMALL_SCRATCH, "pretrain_steps": steps}, seed, folder, train=train, log=log
            )
            (folder / "train.log").write_text("".join(m + "\n" for _, m in lines), "utf-8")
            marks = {m.split(":")[0].split(" (")[0]: t for t, m in lines}
            begun = marks.get("pre-training the encoder")
            row: dict[str, Any] = {
                "variant": f"scratch, pretrain_steps={steps}",
                "seed": seed,
                "rows": len(rows),
                "fit_seconds": round(seconds),
                "wall_seconds": round(time.perf_counter() - started),
                "pretrain_seconds": round(marks.get("inputs ready", begun) - begun) if begun else 0,
            }
            for split in ("validation", "test"):
                row[split] = common.evaluate(str(folder), env, split, args.data_dir)
            with (out / "results.jsonl").open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
