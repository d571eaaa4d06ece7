"""Prediction objects → the few columns the metrics read.

Evaluating 42k records keeps only these columns, not the full objects (their
evidence and distributions would cost hundreds of MB). Any producer of
prediction objects (``docs/prediction.schema.json``) can be scored: the
linear model through :class:`~vulntax.predictor.Predictor`, a neural model's
benchmark, or the constant majority baseline. An error object (a record the
model could not classify) keeps its place with ``ok`` False.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vulntax.dataset.store import CVSS_COLUMNS
from vulntax.errors import UsageError

Links = list[tuple[str, float]]  # (id, p), most probable first


@dataclass
class PredictionColumns:
    ok: list[bool] = field(default_factory=list)  # False for error objects
    cwe: list[str | None] = field(default_factory=list)
    cwe_top: list[tuple[str, ...]] = field(default_factory=list)
    cwe_path: list[tuple[str, ...]] = field(default_factory=list)
    cwe_confidence: list[float] = field(default_factory=list)
    cwe_abstain: list[bool] = field(default_factory=list)
    cvss: dict[str, list[str | None]] = field(default_factory=lambda: _per_metric(list))
    cvss_p: dict[str, list[float]] = field(default_factory=lambda: _per_metric(list))
    base_score: list[float] = field(default_factory=list)
    severity: list[str | None] = field(default_factory=list)
    capec: list[Links] = field(default_factory=list)
    attack: list[Links] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ok)

    @classmethod
    def of(cls, predictions: Iterable[dict[str, Any]]) -> PredictionColumns:
        columns = cls()
        columns.extend(predictions)
        return columns

    @classmethod
    def constant(cls, prediction: dict[str, Any], n: int) -> PredictionColumns:
        """The columns of ``n`` copies of one prediction (the majority baseline)."""
        one = cls.of([prediction])
        columns = cls()
        for name, value in vars(one).items():
            if isinstance(value, dict):
                setattr(columns, name, {k: v * n for k, v in value.items()})
            else:
                setattr(columns, name, value * n)
        return columns

    def extend(self, predictions: Iterable[dict[str, Any]]) -> None:
        for prediction in predictions:
            self.add(prediction)

    def add(self, prediction: dict[str, Any]) -> None:
        if not isinstance(prediction, dict):
            raise UsageError(f"a prediction object is a dict, not {type(prediction).__name__}")
        if "error" in prediction:
            self._add_error()
            return
        try:
            cwe, cvss = prediction["cwe"], prediction["cvss"]
            row = (
                cwe["id"],
                tuple(t["id"] for t in cwe["top"]),
                tuple(cwe["path"]),
                float(cwe["confidence"]),
                bool(cwe["abstain"]),
                {m: cvss["metrics"][m]["value"] for m in CVSS_COLUMNS},
                {m: float(cvss["metrics"][m]["p"]) for m in CVSS_COLUMNS},
                float(cvss["base_score"]),
                cvss["severity"],
                _links(prediction.get("capec", [])),
                _links(prediction.get("attack", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(
                f"not a prediction object (record {prediction.get('id')!r}): missing or bad {exc}"
            ) from exc
        self.ok.append(True)
        self.cwe.append(row[0])
        self.cwe_top.append(row[1])
        self.cwe_path.append(row[2])
        self.cwe_confidence.append(row[3])
        self.cwe_abstain.append(row[4])
        for m in CVSS_COLUMNS:
            self.cvss[m].append(row[5][m])
            self.cvss_p[m].append(row[6][m])
        self.base_score.append(row[7])
        self.severity.append(row[8])
        self.capec.append(row[9])
        self.attack.append(row[10])

    def _add_error(self) -> None:
        self.ok.append(False)
        self.cwe.append(None)
        self.cwe_top.append(())
        self.cwe_path.append(())
        self.cwe_confidence.append(0.0)
        self.cwe_abstain.append(True)
        for m in CVSS_COLUMNS:
            self.cvss[m].append(None)
            self.cvss_p[m].append(0.0)
        self.base_score.append(float("nan"))
        self.severity.append(None)
        self.capec.append([])
        self.attack.append([])

    def array(self, name: str) -> np.ndarray:
        """A column as a numpy array (object dtype for labels)."""
        values = getattr(self, name)
        if name in ("ok", "cwe_abstain"):
            return np.asarray(values, dtype=bool)
        if name in ("cwe_confidence", "base_score"):
            return np.asarray(values, dtype=np.float64)
        return objects(values)


def objects(values: Any) -> np.ndarray:
    """A 1-d object array of ``values`` (tuples stay elements, not rows)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


def _per_metric(factory: Any) -> dict[str, Any]:
    return {m: factory() for m in CVSS_COLUMNS}


def _links(items: Any) -> Links:
    pairs = [(str(item["id"]), float(item["p"])) for item in items]
    pairs.sort(key=lambda pair: -pair[1])  # stable: the producer's order among ties
    return pairs
