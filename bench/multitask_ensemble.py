"""The multitask model ensembled with the linear model (vulntax.models.composite.compose).

    VULNTAX_EMBEDDING_CACHE=/tmp/mt-cache python bench/multitask_ensemble.py \
        --linear /tmp/mt-linear --multitask /tmp/mt-runs/full-s0 --out /tmp/mt-ens

Every head is the weighted average ``w · linear + (1 − w) · multitask``. The weight is
chosen on validation (CWE strict top-1 + CVSS mean per-metric accuracy); the linear
model alone and the chosen ensemble are then scored on the fixed test sample and the
CTID ATT&CK gold set. One JSON line per evaluation in ``--out/results.jsonl``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import multitask_common as common

DATA = str(Path(__file__).resolve().parents[1].parent / "shared" / "data")


def main() -> None:
    from vulntax.models.composite import compose

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="/tmp/mt-ds")
    parser.add_argument("--data-dir", default=DATA)
    parser.add_argument("--linear", required=True)
    parser.add_argument("--multitask", required=True)
    parser.add_argument("--out", default="/tmp/mt-ens")
    parser.add_argument("--weights", default="0.5,0.65,0.8")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = common.setup(args.dataset, args.data_dir)

    def record(row: dict[str, Any]) -> None:
        with (out / "results.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)

    def score(folder: str, row: dict[str, Any]) -> float:
        figures = row["validation"]
        return float(figures["cwe_top1"] or 0) + float(figures["cvss_mean_metric_accuracy"] or 0)

    best: tuple[float, str] | None = None
    linear = {
        "model": "linear",
        "validation": common.evaluate(args.linear, env, "validation", args.data_dir),
    }
    record(linear)
    for w in [float(x) for x in args.weights.split(",")]:
        folder = out / f"ensemble-w{w}"
        head = {"linear": w, "multitask": round(1 - w, 4)}
        compose(
            folder,
            {"linear": Path(args.linear), "multitask": Path(args.multitask)},
            {"cwe": head, "cvss": head, "capec": head, "attack": head},
            name=f"vulntax-linear+multitask-w{w}",
            version="bench",
        )
        row = {
            "model": f"ensemble w={w}",
            "validation": common.evaluate(str(folder), env, "validation", args.data_dir),
        }
        record(row)
        if best is None or score(str(folder), row) > best[0]:
            best = (score(str(folder), row), str(folder))
    assert best is not None
    for name, folder in (("linear", args.linear), (f"chosen {best[1]}", best[1])):
        record({"model": name, "test": common.evaluate(folder, env, "test", args.data_dir)})


if __name__ == "__main__":
    main()
