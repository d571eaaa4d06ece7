"""Scoring hand-made prediction objects; the majority baseline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from vulntax.errors import DatasetError, ModelError, UsageError
from vulntax.evaluate.baseline import Baseline, from_labels
from vulntax.evaluate.columns import PredictionColumns
from vulntax.evaluate.scoring import CvssScores, CweScores, LinkScores
from vulntax.taxonomy import load_catalog
from vulntax.taxonomy.cvss import BASE_METRICS, metric_values, metrics_from_vector, score

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "prediction.schema.json").read_text())
CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8 Critical


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_catalog(None)  # the snapshot shipped with vulntax (MITRE's files, compacted)


def prediction(
    catalog: Any,
    cwe: str,
    *,
    path: list[str] | None = None,
    top: list[str] | None = None,
    confidence: float = 0.9,
    vector: str = CRITICAL,
    capec: Sequence[tuple[str, float]] = (),
    attack: Sequence[tuple[str, float]] = (),
) -> dict[str, Any]:
    """A schema-valid prediction object with the given answers."""
    scored = score(vector)
    values = metrics_from_vector(vector)
    metrics = {
        m: {
            "value": values[m],
            "name": values[m],
            "p": 0.8,
            "dist": {v: (0.8 if v == values[m] else 0.0) for v in metric_values(m)},
        }
        for m in BASE_METRICS
    }
    return {
        "id": None,
        "cwe": {
            "id": cwe,
            "name": catalog.cwe.get(cwe).name,
            "path": list(catalog.cwe.path(cwe)) if path is None else path,
            "usage": None,
            "confidence": confidence,
            "top": [{"id": c, "name": "", "p": 0.1} for c in (top or [cwe])],
            "abstain": confidence < 0.5,
        },
        "cvss": {
            "version": "3.1",
            "vector": scored.vector,
            "base_score": scored.base_score,
            "severity": scored.severity,
            "metrics": metrics,
            "abstain": False,
        },
        "capec": [{"id": i, "name": "", "p": p} for i, p in capec],
        "attack": [{"id": i, "name": "", "p": p} for i, p in attack],
        "evidence": {"cwe": [], "cvss": {}},
        "model": {"name": "hand-made", "version": "1"},
        "warnings": [],
    }


def test_cwe_scores_by_hand(catalog: Any) -> None:
    preds = [
        prediction(catalog, "CWE-79"),  # right
        prediction(catalog, "CWE-74", top=["CWE-74", "CWE-79"], confidence=0.4),  # ancestor
        prediction(catalog, "CWE-20", confidence=0.8),  # the second gold label
        prediction(catalog, "CWE-125", path=["CWE-664", "CWE-125"], confidence=0.7),  # sibling
        prediction(catalog, "CWE-79", path=["CWE-707", "CWE-74"]),  # no gold; path not to id
        {"id": "e", "error": "empty description"},  # not classified: not counted
    ]
    for p in preds:
        jsonschema.validate(p, SCHEMA)
    gold = [["CWE-79"], ["CWE-79"], ["CWE-89", "CWE-20"], ["CWE-787"], [], ["CWE-79"]]
    counts = {"CWE-79": 1500, "CWE-20": 50, "CWE-89": 5}
    scores = CweScores(PredictionColumns.of(preds), gold, catalog, counts)
    figures = scores.figures()
    assert figures["records"] == 4
    assert figures["top1"] == 2 / 4
    assert figures["top5"] == 3 / 4  # the ancestor's top list holds CWE-79
    assert figures["hierarchy"] == 3 / 4  # CWE-74 is an ancestor of CWE-79; 125 and 787 siblings
    assert figures["path_violation_rate"] == 2 / 5  # of the five classified records
    assert figures["abstain_rate"] == 1 / 4
    assert figures["answered_accuracy"] == 2 / 3
    # targets 79, 79, 20, 787 against 79, 74, 20, 125: F1 79 = 2/3, 20 = 1, others 0
    assert figures["macro_f1"] == pytest.approx((2 / 3 + 1) / 5)
    frequency = scores.by_frequency()
    assert frequency["1000+"] == {"records": 2, "top1": 0.5, "hierarchy": 1.0}
    assert frequency["10-99"]["records"] == 1  # CWE-89 seen 5 times, CWE-20 50: the larger
    assert frequency["unseen"] == {"records": 1, "top1": 0.0, "hierarchy": 0.0}
    assert frequency["100-999"] == {"records": 0, "top1": None, "hierarchy": None}
    calibration = scores.calibration()
    assert calibration["records"] == 4
    only_first = scores.figures(np.array([True, False, False, False, False, False]))
    assert only_first["records"] == 1 and only_first["top1"] == 1.0


def test_cwe_all_abstained_and_no_gold(catalog: Any) -> None:
    preds = PredictionColumns.of([prediction(catalog, "CWE-79", confidence=0.2)] * 2)
    abstained = CweScores(preds, [["CWE-79"], ["CWE-89"]], catalog).figures()
    assert abstained["abstain_rate"] == 1.0
    assert abstained["answered_accuracy"] is None
    assert abstained["top1"] == 0.5
    empty = CweScores(preds, [[], []], catalog).figures()
    assert empty["records"] == 0
    assert empty["top1"] is None and empty["macro_f1"] is None
    assert empty["path_violation_rate"] == 0.0  # paths are checked without gold


def test_cvss_scores_by_hand(catalog: Any) -> None:
    preds = PredictionColumns.of(
        [
            prediction(catalog, "CWE-79", vector=CRITICAL),
            prediction(catalog, "CWE-79", vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"),
            prediction(catalog, "CWE-79"),
        ]
    )
    gold_vectors = [CRITICAL, "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N", None]
    gold_metrics = {
        m: [metrics_from_vector(v)[m] if v else None for v in gold_vectors] for m in BASE_METRICS
    }
    scores = CvssScores(preds, gold_vectors, gold_metrics)
    figures = scores.figures()
    assert figures["records"] == 2
    assert figures["exact_vector"] == 0.5
    assert figures["base_score_mae"] == pytest.approx((0 + abs(7.5 - 5.4)) / 2)  # 7.5 vs 5.4
    assert figures["severity_accuracy"] == 0.5  # High vs Medium
    assert figures["accuracy"]["UI"] == 0.5 and figures["accuracy"]["AV"] == 1.0
    assert figures["mean_accuracy"] == pytest.approx((5 * 1 + 3 * 0.5) / 8)
    assert figures["macro_f1"]["AV"] == 1.0  # one class, always right
    nvd = scores.figures(np.array([True, False, False]))
    assert nvd["records"] == 1 and nvd["exact_vector"] == 1.0
    matrix = scores.confusion()["C"]
    assert matrix["values"] == ["H", "L", "N"]
    assert matrix["matrix"] == [[1, 0, 0], [1, 0, 0], [0, 0, 0]]
    assert scores.calibration()["all"]["records"] == 16


def test_link_scores_use_the_listed_order_and_the_threshold(catalog: Any) -> None:
    preds = PredictionColumns.of(
        [
            prediction(catalog, "CWE-89", capec=[("CAPEC-66", 0.9), ("CAPEC-7", 0.3)]),
            prediction(catalog, "CWE-89", capec=[("CAPEC-108", 0.6)]),
            prediction(catalog, "CWE-89"),
        ]
    )
    gold = [["CAPEC-66", "CAPEC-7"], ["CAPEC-66"], []]
    figures = LinkScores(preds.ok, preds.capec, gold).figures()
    assert figures["records"] == 2
    assert figures["recall@5"] == pytest.approx((1.0 + 0.0) / 2)
    assert figures["hit@5"] == 0.5
    # predicted sets (p >= 0.5): {66}, {108} against {66, 7}, {66}
    assert figures["micro_f1"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 2))
    assert figures["predicted_per_record"] == 1.0
    assert figures["gold_per_record"] == 1.5


def test_not_a_prediction_object_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not a prediction object"):
        PredictionColumns.of([{"id": "x", "cwe": {}}])
    with pytest.raises(UsageError):
        PredictionColumns.of(["CWE-79"])  # type: ignore[list-item]


def test_majority_baseline_from_labels(catalog: Any) -> None:
    cvss = {
        m: [metrics_from_vector(CRITICAL)[m], metrics_from_vector(CRITICAL)[m], None]
        for m in BASE_METRICS
    }
    cvss["C"] = ["L", "H", "L"]
    baseline = from_labels(
        cwe=[["CWE-79"], ["CWE-79", "CWE-20"], ["CWE-89"], []],
        cvss=cvss,
        capec=[["CAPEC-66", "CAPEC-7"], ["CAPEC-66"], []],
        attack=[[], [], []],
        catalog=catalog,
    )
    p = baseline.prediction
    jsonschema.validate(p, SCHEMA)
    assert p["cwe"]["id"] == "CWE-79"
    assert p["cwe"]["confidence"] == round(2 / 3, 4)
    assert not p["cwe"]["abstain"]
    assert [t["id"] for t in p["cwe"]["top"]] == ["CWE-79", "CWE-20", "CWE-89"]  # ties by id
    assert p["cvss"]["metrics"]["C"]["value"] == "L"
    assert p["cvss"]["metrics"]["C"]["dist"] == {
        "H": round(1 / 3, 4),
        "L": round(2 / 3, 4),
        "N": 0.0,
    }
    assert p["cvss"]["base_score"] == score(p["cvss"]["vector"]).base_score
    assert [(c["id"], c["p"]) for c in p["capec"]] == [("CAPEC-66", 1.0), ("CAPEC-7", 0.5)]
    assert p["attack"] == []
    assert baseline.cwe_train_counts == {"CWE-79": 2, "CWE-20": 1, "CWE-89": 1}
    again = Baseline.from_dict(json.loads(json.dumps(baseline.to_dict())))
    assert again == baseline
    with pytest.raises(ModelError, match="not a majority baseline"):
        Baseline.from_dict({"prediction": {}})
    with pytest.raises(DatasetError, match="no CWE labels"):
        from_labels([[]], cvss, [[]], [[]], catalog)


def test_technique_level_rolls_sub_techniques_up() -> None:
    from vulntax.evaluate.scoring import parent_technique, technique_level

    assert parent_technique("T1059.004") == "T1059" and parent_technique("T1190") == "T1190"
    listed = [("T1574.007", 0.4), ("T1190", 0.3), ("T1574.010", 0.6), ("T1574", 0.1)]
    assert technique_level(listed) == [("T1574", 0.6), ("T1190", 0.3)]
