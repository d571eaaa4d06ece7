"""The fine-tuned model against the linear one (issue 11's table): validation and test.

    python bench/finetune/compare.py --dataset runs/dataset-p2 \
        --model linear=runs/linear-p2 --model fine-tuned=runs/ft/model \
        [--model int8=runs/ft/int8] [--ensemble linear,fine-tuned] --tag p2

Every model is evaluated with the harness (``vulntax.evaluate.evaluate_dataset``) on the
validation and test splits; figures over all gold sources and over NVD-labelled records
alone. ``--ensemble A,B`` also composes A and B (``vulntax compose``), A's weight chosen on
validation among 0.3/0.5/0.7/0.9 for each head (CWE by CWE top-1, CVSS by CVSS mean
accuracy), never on test; ``--weights CWE,CVSS`` fixes A's weights instead (no grid), and
``--attack-from A`` takes ATT&CK from A alone (as the shipped ``accurate`` model does).
Prints a Markdown table and writes every figure to ``bench/results/finetune-<tag>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ROWS = [
    ("CWE strict top-1", "cwe", "top1"),
    ("CWE hierarchy-aware", "cwe", "hierarchy"),
    ("CWE top-5", "cwe", "top5"),
    ("CWE path violations", "cwe", "path_violation_rate"),
    ("CVSS mean per-metric", "cvss", "mean_accuracy"),
    ("CVSS exact vector", "cvss", "exact_vector"),
    ("CVSS base-score MAE", "cvss", "base_score_mae"),
    ("CVSS severity", "cvss", "severity_accuracy"),
]
WEIGHTS = (0.3, 0.5, 0.7, 0.9)  # the first model's ensemble weight, chosen on validation
METRICS = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")


def figures(report: dict[str, Any]) -> dict[str, Any]:
    """The table's figures from a harness report: all sources, NVD alone, baseline."""
    out: dict[str, Any] = {}
    scopes = {
        "all": ("overall", "model"),
        "nvd": ("nvd", "model"),
        "baseline": ("overall", "baseline"),
        "nvd_baseline": ("nvd", "baseline"),
    }
    for scope, (where, who) in scopes.items():
        row: dict[str, Any] = {}
        for head in ("cwe", "cvss"):
            section = report[head]
            part = section["overall"] if where == "overall" else section["by_source"].get(where, {})
            values = part.get(who, {})
            for _, h, key in ROWS:
                if h == head:
                    row[f"{head}.{key}"] = values.get(key)
            if head == "cvss":
                row["cvss.per_metric"] = values.get("accuracy")
        out[scope] = row
    summary = report.get("summary", {})
    out["attack_ctid_recall@5"] = summary.get("attack_ctid_recall@5", {}).get("model")
    out["capec_recall@5"] = summary.get("capec_recall@5", {}).get("model")
    return out


def evaluate(model: Path, dataset: Any, split: str, data_dir: Path) -> dict[str, Any]:
    from vulntax.evaluate import evaluate_dataset
    from vulntax.predictor import Predictor

    started = time.perf_counter()
    predictor = Predictor(model, data_dir=data_dir)
    report = evaluate_dataset(predictor, dataset, split, show_progress=True)
    seconds = time.perf_counter() - started
    return {**figures(report), "seconds": round(seconds, 1), "records": report["run"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--model", action="append", default=[], help="NAME=DIR")
    parser.add_argument("--ensemble", default=None, help="A,B: compose models A and B")
    parser.add_argument("--weights", default=None, help="CWE,CVSS: A's fixed ensemble weights")
    parser.add_argument("--attack-from", default=None, help="ATT&CK from this part alone")
    parser.add_argument("--splits", default="validation,test")
    parser.add_argument("--tag", default="run")
    parser.add_argument(
        "--reuse", type=Path, default=None, help="a finetune-*.json of an earlier run: its models"
    )
    args = parser.parse_args()
    from vulntax.dataset.store import load_dataset

    dataset = load_dataset(args.dataset)
    models = dict(item.split("=", 1) for item in args.model)
    results: dict[str, Any] = {}
    if args.reuse is not None:
        results.update(json.loads(args.reuse.read_text(encoding="utf-8"))["results"])
    splits = args.splits.split(",")
    for name, folder in models.items():
        if name in results:
            continue
        results[name] = {s: evaluate(Path(folder), dataset, s, args.data_dir) for s in splits}
        print(name, json.dumps(results[name]["validation"]["all"]), flush=True)
    if args.ensemble:
        results.update(ensemble(args, models, dataset, splits))
    out = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {_cpus()} CPUs, Python {platform.python_version()}",
        "dataset": str(args.dataset),
        "results": results,
    }
    target = REPO / "bench" / "results" / f"finetune-{args.tag}.json"
    target.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(table(results, splits))
    print(f"wrote {target}")


def ensemble(args: Any, models: dict[str, str], dataset: Any, splits: list[str]) -> dict[str, Any]:
    """A and B composed with A's weight chosen on validation, per head: the CWE weight by CWE
    top-1, the CVSS weight by CVSS mean accuracy (CAPEC and ATT&CK follow the CWE weight).
    Heads are averaged independently (``models/composite.py``), so one validation run per
    grid weight scores both choices."""
    import tempfile

    from vulntax.models.composite import compose

    a, b = args.ensemble.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="ft-ensemble-"))
    parts = {a: Path(models[a]), b: Path(models[b])}

    attack = args.attack_from
    if attack is not None and attack not in parts:
        raise SystemExit(f"--attack-from {attack}: not one of {a}, {b}")

    def build(folder: Path, w_cwe: float, w_cvss: float) -> Path:
        cwe = {a: w_cwe, b: round(1 - w_cwe, 4)}
        compose(
            folder, parts,
            {"cwe": cwe, "cvss": {a: w_cvss, b: round(1 - w_cvss, 4)}, "capec": cwe,
             "attack": attack or cwe},
            name=f"ensemble-{a}-{b}", version="1",
        )  # fmt: skip
        return folder

    if args.weights:
        w_cwe, w_cvss = (float(w) for w in args.weights.split(","))
        fixed = build(tmp / "fixed", w_cwe, w_cvss)
        name = f"ensemble {a} (CWE {w_cwe}, CVSS {w_cvss}, fixed) + {b}"
        if attack:
            name += f", ATT&CK from {attack}"
        return {
            name: {
                **{s: evaluate(fixed, dataset, s, args.data_dir) for s in splits},
                "weights": {"cwe": w_cwe, "cvss": w_cvss, "of": a, "attack": attack or "cwe"},
            }
        }
    grid: dict[float, dict[str, Any]] = {}
    for w in WEIGHTS:
        v = evaluate(build(tmp / f"w{w}", w, w), dataset, "validation", args.data_dir)["all"]
        grid[w] = {"cwe.top1": v["cwe.top1"], "cvss.mean_accuracy": v["cvss.mean_accuracy"]}
        print(f"ensemble w({a})={w}: validation {json.dumps(grid[w])}", flush=True)
    w_cwe = max(WEIGHTS, key=lambda w: float(grid[w]["cwe.top1"]))
    w_cvss = max(WEIGHTS, key=lambda w: float(grid[w]["cvss.mean_accuracy"]))
    chosen = build(tmp / "chosen", w_cwe, w_cvss)
    name = f"ensemble {a} (CWE {w_cwe}, CVSS {w_cvss}) + {b}"
    return {
        name: {
            **{s: evaluate(chosen, dataset, s, args.data_dir) for s in splits},
            "validation_grid": {str(w): g for w, g in grid.items()},
            "weights": {"cwe": w_cwe, "cvss": w_cvss, "of": a},
        }
    }


def table(results: dict[str, Any], splits: list[str]) -> str:
    lines = []
    for split in splits:
        for scope in ("all", "nvd"):
            names = list(results)
            lines += [
                "",
                f"### {split}, {'all gold sources' if scope == 'all' else 'NVD-labelled'}",
                "",
                "| figure | " + " | ".join(names) + " | majority |",
                "|---|" + "---|" * (len(names) + 1),
            ]
            for label, head, key in ROWS:
                cells = [_fmt(results[n][split][scope][f"{head}.{key}"]) for n in names]
                base = _fmt(results[names[0]][split][_base(scope)][f"{head}.{key}"])
                lines.append(f"| {label} | " + " | ".join(cells) + f" | {base} |")
            for metric in METRICS:
                cells = [
                    _fmt((results[n][split][scope]["cvss.per_metric"] or {}).get(metric))
                    for n in names
                ]
                base = _fmt(
                    (results[names[0]][split][_base(scope)]["cvss.per_metric"] or {}).get(metric)
                )
                lines.append(f"| CVSS {metric} | " + " | ".join(cells) + f" | {base} |")
            if scope == "all":
                cells = [_fmt(results[n][split]["attack_ctid_recall@5"]) for n in names]
                lines.append("| ATT&CK CTID recall@5 | " + " | ".join(cells) + " | |")
    return "\n".join(lines)


def _base(scope: str) -> str:
    return "baseline" if scope == "all" else "nvd_baseline"


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
