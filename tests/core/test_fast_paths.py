"""The fast prediction paths answer exactly what straightforward code answers.

The predictor decodes a batch column by column and the linear model finds evidence with
one sort per head over a dense weight table; the references here are the plain per-record
loops those replaced (as they were before issue 15). Real NVD descriptions, the shipped
model and the tests' tiny model. A field the reference does not build (one added later)
is not compared; every field it builds must be equal, in the same key order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from vulntax.models import linear
from vulntax.predictor import Predictor, _rounded, _top, round4
from vulntax.taxonomy.cvss import BASE_METRICS, METRIC_VALUE_NAMES, score, vector_from_metrics
from vulntax.text import model_input


# -- the references ------------------------------------------------------------------------
def reference_evidence(x: Any, head: Any, labels: np.ndarray, k: int, terms: list[str]) -> Any:
    """Per row, a loop over its terms: the k largest positive tf-idf × weight, ties by column."""
    weights = head.weights.tocsr()
    out = []
    for r in range(x.shape[0]):
        row = weights[int(labels[r])]
        w = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
        lo, hi = x.indptr[r], x.indptr[r + 1]
        pairs = []
        for c, v in zip(x.indices[lo:hi].tolist(), x.data[lo:hi], strict=True):
            contribution = float(np.float32(v) * np.float32(w.get(c, 0.0)))
            if contribution > 0:
                pairs.append((c, contribution))
        pairs.sort(key=lambda p: -p[1])  # stable: ties keep column order
        out.append([(terms[c], v) for c, v in pairs[:k]])
    return out


def reference_predictions(predictor: Predictor, texts: list[str]) -> list[dict[str, Any]]:
    """Prediction objects built record by record from the model's probabilities."""
    from vulntax.trust.negation import drop_denials

    if predictor.decoding.drop_denials:  # what the predictor feeds the model
        texts = [drop_denials(t) for t in texts]
    model: Any = predictor.model  # the linear model
    labels = model.labels
    x = model.features.transform(texts)
    output = model.predict_features(x)
    dec = predictor.decoding
    candidates, candidate_p = _top(output.cwe, 4 * dec.top_k)
    results = []
    for row in range(len(texts)):
        probs = output.cwe[row]
        order = candidates[row].tolist()
        best = order[0]
        if not predictor._allowed[best]:
            floor = dec.prefer_allowed * probs[best]
            for j in order[1:]:
                if probs[j] < floor:
                    break
                if predictor._allowed[j] and labels.cwe[best] in predictor._cwe_paths[j]:
                    best = j
                    break
        entry = predictor.catalog.cwe.get(labels.cwe[best])
        confidence = float(probs[best])
        cwe = {
            "id": entry.id,
            "name": entry.name,
            "path": list(predictor._cwe_paths[best]),
            "usage": entry.usage,
            "confidence": round(min(1.0, max(0.0, confidence)), 4),
            "top": [
                {"id": labels.cwe[j], "name": predictor.catalog.cwe.get(labels.cwe[j]).name, "p": p}
                for j, p in zip(order[: dec.top_k], candidate_p[row].tolist(), strict=False)
            ],
            "abstain": confidence < dec.abstain_below,
        }
        metrics = {}
        for m in BASE_METRICS:
            dist = _rounded(output.cvss[m][row : row + 1])[0].tolist()
            j = int(np.argmax(output.cvss[m][row]))
            value = labels.cvss[m][j]
            metrics[m] = {
                "value": value,
                "name": METRIC_VALUE_NAMES[m][value],
                "p": dist[j],
                "dist": dict(zip(labels.cvss[m], dist, strict=True)),
            }
        scored = score(vector_from_metrics({m: v["value"] for m, v in metrics.items()}))
        cvss = {
            "version": "3.1",
            "vector": scored.vector,
            "base_score": scored.base_score,
            "severity": scored.severity,
            "metrics": metrics,
        }
        one = x[row : row + 1]
        cwe_terms = reference_evidence(
            one, model.cwe, np.array([best]), dec.evidence_terms, model.terms
        )
        cvss_terms = {
            m: reference_evidence(
                one,
                model.cvss[m],
                np.array([labels.cvss[m].index(metrics[m]["value"])]),
                3,
                model.terms,
            )[0]
            for m in BASE_METRICS
        }
        results.append(
            {
                "cwe": cwe,
                "cvss": cvss,
                "evidence": {
                    "cwe": [{"term": t, "weight": round(w, 4)} for t, w in cwe_terms[0]],
                    "cvss": {
                        m: [{"term": t, "weight": round(w, 4)} for t, w in pairs]
                        for m, pairs in cvss_terms.items()
                    },
                },
            }
        )
    return results


def assert_contains(actual: Any, expected: Any, where: str = "") -> None:
    """``expected``'s fields are in ``actual`` with equal values, in the same key order."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        keys = [k for k in actual if k in expected]
        assert keys == list(expected), f"{where}: keys {list(actual)} vs {list(expected)}"
        for key, value in expected.items():
            assert_contains(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_contains(a, e, f"{where}[{i}]")
    else:
        assert type(actual) is type(expected) and actual == expected, f"{where}: {actual!r}"


# -- the tests ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shipped() -> Predictor:
    return Predictor()


@pytest.fixture(scope="module")
def texts(descriptions: list[str]) -> list[str]:
    return [model_input(d) for d in descriptions[:300]]


def test_batch_decoding_matches_record_by_record(shipped: Predictor, texts: list[str]) -> None:
    fast = shipped.predict_batch([(str(i), t) for i, t in enumerate(texts)])
    for i, (got, expected) in enumerate(
        zip(fast, reference_predictions(shipped, texts), strict=True)
    ):
        assert_contains(got, expected, f"record {i}")
    assert any(r["cwe"]["id"] != r["cwe"]["top"][0]["id"] for r in fast)  # Allowed preferred
    assert sum(len(r["evidence"]["cwe"]) for r in fast) > 3 * len(fast)


def test_tiny_model_matches_too(tiny_model: Path, texts: list[str]) -> None:
    predictor = Predictor(tiny_model)
    fast = predictor.predict_batch([(None, t) for t in texts[:120]])
    for i, (got, expected) in enumerate(
        zip(fast, reference_predictions(predictor, texts[:120]), strict=True)
    ):
        assert_contains(got, expected, f"record {i}")


@pytest.mark.parametrize("dense_limit", [linear.DENSE_LOOKUP_BYTES, 0])
def test_evidence_by_table_and_by_search(
    shipped: Predictor, texts: list[str], dense_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both look-ups (dense table, binary search) give the reference's terms and weights."""
    monkeypatch.setattr(linear, "DENSE_LOOKUP_BYTES", dense_limit)
    model: Any = shipped.model
    head = linear._Head(model.cwe.weights.copy(), model.cwe.bias, model.cwe.temperature)
    x = model.features.transform(texts)
    labels = np.argmax(head.scores(x), axis=1)
    found = linear._top_contributions(x, head.lookup(labels), labels, 5, model.terms)
    assert (head._table is not None) == (dense_limit > 0)
    assert found == reference_evidence(x, head, labels, 5, model.terms)
    one = linear._top_contributions(x[:1], head.lookup(labels[:1]), labels[:1], 5, model.terms)
    assert one == found[:1]  # a single row: the binary search, whatever the table


def test_output_bytes_are_stable(shipped: Predictor, texts: list[str]) -> None:
    """One batch or one record at a time: the same JSON, byte for byte."""
    together = shipped.predict_batch([(None, t) for t in texts[:40]])
    alone = [shipped.predict(t) for t in texts[:40]]
    assert [orjson.dumps(r) for r in together] == [orjson.dumps(r) for r in alone]


def test_round4_is_pythons_round() -> None:
    rng = np.random.default_rng(15)
    values = [
        *rng.normal(0, 0.3, 20_000).tolist(),
        *rng.normal(0, 0.3, 5_000).astype(np.float32).tolist(),  # as evidence weights are
        *[(n + 0.5) / 1e4 for n in range(-2_000, 2_000)],  # halfway, as written
        *[n / 20_000 for n in range(0, 5_000, 625)],  # exactly halfway in binary too
        0.0,
        -0.0,
        1e300,
        -1e-320,
        float("inf"),
    ]
    assert [repr(v) for v in round4(values)] == [repr(round(v, 4)) for v in values]
    assert round4([float("nan")])[0] != round4([float("nan")])[0]  # nan stays nan
