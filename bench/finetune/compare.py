"""The fine-tuned model against the linear one (issue 11's table): validation and test.

    python bench/finetune/compare.py --dataset runs/dataset-p2 \
        --model linear=runs/linear-p2 --model fine-tuned=runs/ft/model \
        [--model int8=runs/ft/int8] [--ensemble linear,fine-tuned] --tag p2

Every model is evaluated with the harness (``vulntax.evaluate.evaluate_dataset``) on the
validation and test splits; figures over all gold sources and over NVD-labelled records
alone. ``--ensemble A,B`` also composes A and B (``vulntax compose``), the weight of A
chosen on validation among 0.3/0.5/0.7 (CWE top-1 + CVSS mean accuracy), never on test.
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
    import tempfile

    from vulntax.models.composite import compose

    a, b = args.ensemble.split(",")
    best: tuple[float, float, Path] | None = None
    tmp = Path(tempfile.mkdtemp(prefix="ft-ensemble-"))
    scores = {}
    for w in (0.3, 0.5, 0.7):
        folder = tmp / f"w{w}"
        head = {a: w, b: round(1 - w, 4)}
        compose(
            folder,
            {a: Path(models[a]), b: Path(models[b])},
            {"cwe": head, "cvss": head, "capec": head, "attack": head},
            name=f"ensemble-{a}-{b}",
            version="1",
        )
        v = evaluate(folder, dataset, "validation", args.data_dir)["all"]
        score = float(v["cwe.top1"]) + float(v["cvss.mean_accuracy"])
        scores[w] = round(score, 4)
        print(f"ensemble w({a})={w}: validation score {score:.4f}", flush=True)
        if best is None or score > best[0]:
            best = (score, w, folder)
    assert best is not None
    name = f"ensemble {a} {best[1]} + {b} {round(1 - best[1], 2)}"
    return {
        name: {
            **{s: evaluate(best[2], dataset, s, args.data_dir) for s in splits},
            "validation_scores": scores,
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
