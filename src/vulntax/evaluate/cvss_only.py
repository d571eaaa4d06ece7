"""CVSS figures of a model that predicts CVSS only (e.g. ``lsnet``), without a CWE partner.

A full prediction object needs a CWE, so such a model is served inside a composite
and evaluated there with :func:`vulntax.evaluate.evaluate_dataset`. Training
(``vulntax train``) still measures it alone: this scores its most probable value per
metric, the vector assembled from them and scored with the ``cvss`` package, exactly
as the predictor decodes it, beside the majority baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vulntax.dataset.store import CVSS_COLUMNS, Dataset
from vulntax.evaluate.baseline import Baseline
from vulntax.evaluate.columns import PredictionColumns
from vulntax.evaluate.gold import check_split, from_dataset
from vulntax.evaluate.harness import BATCH_SIZE, rounded
from vulntax.evaluate.scoring import CvssScores

SUMMARY = {
    "cvss_mean_metric_accuracy": "mean_accuracy",
    "cvss_exact_vector": "exact_vector",
    "cvss_base_score_mae": "base_score_mae",
    "cvss_severity_accuracy": "severity_accuracy",
}


def cvss_columns(model: Any, texts: list[str], batch_size: int = BATCH_SIZE) -> PredictionColumns:
    """The CVSS columns of ``model``'s predictions for the descriptions ``texts`` (argmax per
    metric), which are normalised as the predictor normalises them (:func:`model_input`)."""
    from vulntax.predictor import MAX_TEXT
    from vulntax.taxonomy.cvss import score, vector_from_metrics
    from vulntax.text import model_input

    texts = [model_input(t[:MAX_TEXT]) for t in texts]
    columns = PredictionColumns()
    scored: dict[tuple[str, ...], Any] = {}
    values = model.labels.cvss
    for start in range(0, len(texts), batch_size):
        output = model.predict_batch(texts[start : start + batch_size])
        choice = {m: output.cvss[m].argmax(axis=1) for m in CVSS_COLUMNS}
        for row in range(len(choice["AV"])):
            picked = {m: values[m][int(choice[m][row])] for m in CVSS_COLUMNS}
            key = tuple(picked.values())
            if key not in scored:
                scored[key] = score(vector_from_metrics(picked, version="3.1"))
            columns.ok.append(True)
            for m in CVSS_COLUMNS:
                columns.cvss[m].append(picked[m])
                columns.cvss_p[m].append(float(output.cvss[m][row, choice[m][row]]))
            columns.base_score.append(scored[key].base_score)
            columns.severity.append(scored[key].severity)
    return columns


def evaluate_cvss(model: Any, dataset: Dataset, split: str, catalog: Any) -> dict[str, Any]:
    """``{"summary": ..., "cvss": {"overall": {"model": ..., "baseline": ...}}}`` on ``split``."""
    check_split(dataset, split)
    gold = from_dataset(dataset, split)
    pred = cvss_columns(model, list(gold.texts))
    baseline = Baseline.from_dataset(dataset, catalog)
    base = PredictionColumns.constant(baseline.prediction, len(gold))
    everything = np.ones(len(gold), dtype=bool)
    overall = {
        "model": CvssScores(pred, gold.cvss_vector, gold.cvss).figures(everything),
        "baseline": CvssScores(base, gold.cvss_vector, gold.cvss).figures(everything),
    }
    summary = {
        name: {side: overall[side][key] for side in ("model", "baseline")}
        for name, key in SUMMARY.items()
    }
    return rounded({"summary": summary, "cvss": {"overall": overall}, "records": len(gold)})
