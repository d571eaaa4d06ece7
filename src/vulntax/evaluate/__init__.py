"""The evaluation harness: CWE, CVSS, CAPEC and ATT&CK figures beside a majority baseline.

::

    from vulntax.evaluate import evaluate_dataset
    report = evaluate_dataset(Predictor(model_dir), dataset_dir, "test")
    report["summary"]["cwe_top1"]          # {"model": 0.61, "baseline": 0.12}

* :mod:`~vulntax.evaluate.metrics` — pure metric functions;
* :mod:`~vulntax.evaluate.gold` — gold labels from a dataset split or an input file;
* :mod:`~vulntax.evaluate.baseline` — the majority-class baseline;
* :mod:`~vulntax.evaluate.columns`, :mod:`~vulntax.evaluate.scoring` — prediction
  objects scored per record, figures per subset;
* :mod:`~vulntax.evaluate.harness` — runs a predictor, assembles the report;
* :mod:`~vulntax.evaluate.report` — JSON and Markdown; :mod:`~vulntax.evaluate.plots` — PNGs.

Every figure is defined in ``docs/evaluation.md``.
"""

from __future__ import annotations

from vulntax.evaluate.baseline import Baseline
from vulntax.evaluate.columns import PredictionColumns
from vulntax.evaluate.gold import Gold
from vulntax.evaluate.harness import (
    evaluate_dataset,
    evaluate_file,
    predict_gold,
    score_predictions,
    summary,
)

__all__ = [
    "Baseline",
    "Gold",
    "PredictionColumns",
    "evaluate_dataset",
    "evaluate_file",
    "predict_gold",
    "score_predictions",
    "summary",
]
