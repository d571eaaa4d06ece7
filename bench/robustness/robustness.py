"""Robustness and abstention of a model on one split: accuracy under perturbations.

    python bench/robustness/robustness.py --model DIR --dataset DATASET [--split test]
        [--decoys test|dev] [--no-negation] [--limit N] [--out bench/results/robustness.json]

Prints, for the clean text and each perturbation of bench/robustness/perturb.py, CWE strict
top-1 accuracy (over records with a CWE label) and CVSS mean per-metric accuracy (over
records with a CVSS v3 label), with the drop in points against clean text; then the
abstention figures on the clean split (how often CVSS and CWE abstain, the accuracy of the
answered records) and on the 25 non-vulnerability texts of tests/trust. Accuracy counts
every record, answered or not. The majority baseline (the most frequent training label)
is printed beside.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perturb import DECOYS, DEV_DECOYS, PERTURBATIONS, decoy_with

from vulntax.dataset.store import CVSS_COLUMNS, load_dataset
from vulntax.predictor import Predictor

REPO = Path(__file__).resolve().parents[2]
NOT_VULNERABILITIES = REPO / "tests" / "trust" / "not_vulnerabilities.json"


def score(predictions: list[dict[str, Any]], gold: dict[str, list[Any]]) -> dict[str, float]:
    cwe_hits = [p["cwe"]["id"] in g for p, g in zip(predictions, gold["cwe"], strict=True) if g]
    metric_hits = [
        np.mean([p["cvss"]["metrics"][m]["value"] == gold[m][i] for m in CVSS_COLUMNS])
        for i, p in enumerate(predictions)
        if gold["AV"][i] is not None
    ]
    return {"cwe": float(np.mean(cwe_hits)), "cvss": float(np.mean(metric_hits))}


def abstention(predictions: list[dict[str, Any]], gold: dict[str, list[Any]]) -> dict[str, Any]:
    rows = [i for i in range(len(predictions)) if gold["AV"][i] is not None]
    acc = np.array(
        [
            np.mean(
                [predictions[i]["cvss"]["metrics"][m]["value"] == gold[m][i] for m in CVSS_COLUMNS]
            )
            for i in rows
        ]
    )
    abstain = np.array([predictions[i]["cvss"]["abstain"] for i in rows])
    cwe_rows = [i for i in range(len(predictions)) if gold["cwe"][i]]
    cwe_hit = np.array([predictions[i]["cwe"]["id"] in gold["cwe"][i] for i in cwe_rows])
    cwe_abstain = np.array([predictions[i]["cwe"]["abstain"] for i in cwe_rows])
    warnings = Counter(w["code"] for p in predictions for w in p["warnings"])
    return {
        "records": len(predictions),
        "cvss_labelled": len(rows),
        "cvss_abstained": float(abstain.mean()),
        "cvss_accuracy_all": float(acc.mean()),
        "cvss_accuracy_answered": float(acc[~abstain].mean()),
        "cvss_accuracy_abstained": float(acc[abstain].mean()) if abstain.any() else None,
        "cwe_labelled": len(cwe_rows),
        "cwe_abstained": float(cwe_abstain.mean()),
        "cwe_accuracy_all": float(cwe_hit.mean()),
        "cwe_accuracy_answered": float(cwe_hit[~cwe_abstain].mean()),
        "warnings_per_1000": {
            k: round(1000 * v / len(predictions), 2) for k, v in warnings.items()
        },
    }


def majority(dataset: Any, gold: dict[str, list[Any]]) -> dict[str, float]:
    train = dataset.columns("train", ["cwe", *CVSS_COLUMNS])
    top_cwe = Counter(c for cs in train["cwe"] for c in cs[:1]).most_common(1)[0][0]
    top = {m: Counter(v for v in train[m] if v).most_common(1)[0][0] for m in CVSS_COLUMNS}
    cwe = np.mean([top_cwe in g for g in gold["cwe"] if g])
    cvss = np.mean(
        [
            np.mean([top[m] == gold[m][i] for m in CVSS_COLUMNS])
            for i, a in enumerate(gold["AV"])
            if a
        ]
    )
    return {"cwe": float(cwe), "cvss": float(cvss)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--decoys", choices=["test", "dev"], default="test")
    parser.add_argument("--no-negation", action="store_true", help="keep denial sentences")
    parser.add_argument("--limit", type=int, default=None, help="a seeded sample of N records")
    parser.add_argument("--out", default=None, help="write the figures here as JSON")
    args = parser.parse_args()

    dataset = load_dataset(args.dataset, verify=False)
    gold = dataset.columns(args.split, ["id", "description", "cwe", *CVSS_COLUMNS])
    n = len(gold["id"])
    if args.limit and args.limit < n:
        keep = sorted(random.Random(0).sample(range(n), args.limit))
        gold = {k: [v[i] for i in keep] for k, v in gold.items()}
    predictor = Predictor(args.model)
    if args.no_negation:
        predictor.decoding = replace(predictor.decoding, drop_denials=False)
    texts = gold["description"]
    decoy = decoy_with(DECOYS if args.decoys == "test" else DEV_DECOYS)
    variants = {"clean": texts, **{k: [f(t) for t in texts] for k, f in PERTURBATIONS.items()}}
    variants["decoy"] = [decoy(t, g) for t, g in zip(texts, gold["cwe"], strict=True)]

    results: dict[str, Any] = {}
    clean_predictions: list[dict[str, Any]] = []
    started = time.perf_counter()
    for name, batch in variants.items():
        predictions = [
            p
            for s in range(0, len(batch), 1000)
            for p in predictor.predict_batch([(None, t) for t in batch[s : s + 1000]])
        ]
        results[name] = score(predictions, gold)
        if name == "clean":
            clean_predictions = predictions
    seconds = time.perf_counter() - started

    items = json.loads(NOT_VULNERABILITIES.read_text(encoding="utf-8"))
    other = predictor.predict_batch([(i["kind"], i["text"]) for i in items])
    both = [p["id"] for p in other if p["cwe"]["abstain"] and p["cvss"]["abstain"]]
    report = {
        "model": args.model,
        "dataset": args.dataset,
        "split": args.split,
        "records": len(texts),
        "decoys": args.decoys,
        "negation_handling": not args.no_negation,
        "accuracy": results,
        "drop_points": {
            k: {h: round(100 * (results["clean"][h] - v[h]), 2) for h in ("cwe", "cvss")}
            for k, v in results.items()
            if k != "clean"
        },
        "majority_baseline": majority(dataset, gold),
        "abstention": abstention(clean_predictions, gold),
        "not_vulnerabilities": {
            "texts": len(items),
            "both_abstain": len(both) / len(items),
            "missed": [p["id"] for p in other if p["id"] not in both],
        },
        "seconds": round(seconds, 1),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }
    print(f"{args.split}: {len(texts):,} records; accuracy (drop in points against clean)")
    print(f"{'text':12} {'CWE':>7} {'drop':>6} {'CVSS':>7} {'drop':>6}")
    for name, figures in results.items():
        drop = report["drop_points"].get(name, {"cwe": 0.0, "cvss": 0.0})
        print(
            f"{name:12} {figures['cwe']:7.4f} {drop['cwe']:6.2f} {figures['cvss']:7.4f} "
            f"{drop['cvss']:6.2f}"
        )
    base = report["majority_baseline"]
    print(f"{'majority':12} {base['cwe']:7.4f} {'':6} {base['cvss']:7.4f}")
    print("abstention on clean text:", json.dumps(report["abstention"]))
    print("non-vulnerability texts:", json.dumps(report["not_vulnerabilities"]))
    print(f"{seconds:.0f} s, load average {report['load_average']}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
