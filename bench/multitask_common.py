"""Shared settings of the multitask benchmarks (imported by the bench/multitask_*.py scripts).

CPU budget: MiniLM embeds 10–80 texts/s on this shared 2-core machine, so the
benchmarks embed the CWE window (last 1.5 years of train), the same window for
CVSS, validation, the CTID gold CVEs and a fixed random sample of the test split.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CVSS_YEARS = 1.5
TEST_SAMPLE = 6000
SAMPLE_SEED = 20260101


def test_sample_rows(dataset: Any, n: int = TEST_SAMPLE) -> np.ndarray:
    """Row numbers (in the test split's order) of the fixed random test sample."""
    count = len(dataset.columns("test", ["id"])["id"])
    rng = np.random.default_rng(SAMPLE_SEED)
    return np.sort(rng.choice(count, size=min(n, count), replace=False))


# ---------------------------------------------------------------------- experiments
def setup(dataset_dir: str, data_dir: str) -> dict[str, Any]:
    """Dataset, catalog, training/calibration examples and gold sets, loaded once."""
    from vulntax.dataset.store import load_dataset
    from vulntax.evaluate.baseline import Baseline
    from vulntax.evaluate.gold import ctid_from_dataset, from_dataset
    from vulntax.models.data import DataConfig, cwe_roll_up, load_examples
    from vulntax.taxonomy import load_catalog

    ds = load_dataset(dataset_dir)
    catalog = load_catalog(data_dir)
    data = DataConfig(cvss_window_years=CVSS_YEARS)
    train = load_examples(ds, data.train_splits, data, training=True)
    calibration = load_examples(ds, [data.calibration_split], data, training=False, sources=True)
    classes = cwe_roll_up([g[0] for g in train.cwe_gold if g], catalog.cwe, data.cwe_min_count)
    test = from_dataset(ds, "test")
    return {
        "dataset": ds,
        "catalog": catalog,
        "data": data,
        "train": train,
        "calibration": calibration,
        "classes": classes,
        "baseline": Baseline.from_dataset(ds, catalog),
        "gold": {
            "validation": from_dataset(ds, "validation"),
            "test": test.subset(test_sample_rows(ds).tolist()),
        },
        "ctid": ctid_from_dataset(ds),
    }


def subset_examples(examples: Any, rows: Any) -> Any:
    """The examples at ``rows``: every per-row field cut alike (CVSS: per metric)."""
    import dataclasses

    rows = list(rows)
    cut: dict[str, Any] = {}
    for field in dataclasses.fields(examples):
        value = getattr(examples, field.name)
        if isinstance(value, dict):
            cut[field.name] = {k: [v[i] for i in rows] for k, v in value.items()}
        else:
            cut[field.name] = [value[i] for i in rows]
    return dataclasses.replace(examples, **cut)


def evaluate(model_dir: str, env: dict[str, Any], split: str, data_dir: str) -> dict[str, Any]:
    """Harness figures of a saved model on ``split`` (the test split: the fixed sample) and the
    CTID gold set, plus the multitask model's own hierarchy figures where it has them."""
    from vulntax.evaluate.harness import predict_gold, rounded, score_predictions, summary
    from vulntax.predictor import Predictor

    predictor = Predictor(model_dir, data_dir=data_dir)
    gold, ctid = env["gold"][split], env["ctid"]
    pred = predict_gold(predictor, gold, show_progress=False)
    ctid_pred = predict_gold(predictor, ctid, show_progress=False)
    sections = score_predictions(pred, gold, predictor.catalog, env["baseline"], (ctid_pred, ctid))
    figures = {k: v["model"] for k, v in summary(sections).items()}
    model = predictor.model
    trained_levels = getattr(model, "kind", "") == "multitask" and (
        model.params.cwe_output != "flat" or model.params.constraint_weight > 0
    )
    if trained_levels:  # else the level heads were never trained: nothing to measure
        figures.update(hierarchy_figures(model, gold, env))
    return dict(rounded(figures))


def hierarchy_figures(model: Any, gold: Any, env: dict[str, Any]) -> dict[str, float]:
    """Violation rates of the model's own level decodings, and top-down accuracy."""
    from vulntax.models.multitask.hierarchy import (
        chosen_class,
        independent_argmax,
        marginal_violations,
        top_down,
        violations,
    )
    from vulntax.text import model_input

    h = model.hierarchy
    out = model.logits([model_input(t) for t in gold.texts])
    probs = []
    for z in out["levels"]:
        e = np.exp(z - z.max(1, keepdims=True))
        probs.append(e / e.sum(1, keepdims=True))
    flat_path = independent_argmax(probs)
    greedy = top_down(h, probs)
    classes = env["classes"]
    rows, target = [], []
    index = {c: i for i, c in enumerate(h.classes)}
    for row, labels in enumerate(gold.cwe):
        mapped = next((classes.get(c) for c in labels if classes.get(c)), None)
        if mapped in index:
            rows.append(row)
            target.append(index[mapped])
    picked = chosen_class(h, greedy[rows])
    return {
        "levels_independent_violation_rate": float(violations(h, flat_path).mean()),
        "levels_topdown_violation_rate": float(violations(h, greedy).mean()),
        "levels_marginal_violation_rate": float(marginal_violations(h, probs).mean()),
        "levels_topdown_top1_on_classes": float(np.mean(picked == np.asarray(target))),
    }
