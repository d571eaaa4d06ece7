"""The majority-class baseline: one constant prediction object, from training-split counts.

For every head the baseline answers the value most frequent in the training
split, with the training shares as its probabilities:

* **CWE** — the CWE most training examples carry (``confidence`` = its share
  of CWE-labelled examples; ``top`` = the five most frequent, so top-5 has a
  baseline too; ``abstain`` as the default decoding would set it);
* **CVSS** — each base metric's most frequent value (``dist`` = the training
  distribution); vector and score computed from those values;
* **CAPEC / ATT&CK** — the five labels most frequent among the examples that
  have such labels, each with its share as ``p``.

Being a prediction object (``docs/prediction.schema.json``), it is scored by the
very functions that score a model. The training counts of every CWE are kept
with it, for the accuracy-by-training-frequency breakdown.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vulntax.dataset.store import CVSS_COLUMNS, Dataset
from vulntax.errors import DatasetError, ModelError

TOP_K = 5
NAME = "majority-baseline"
ABSTAIN_BELOW = 0.5  # the default decoding's threshold (vulntax.predictor.Decoding)


@dataclass
class Baseline:
    prediction: dict[str, Any]  # the constant prediction object
    cwe_train_counts: dict[str, int]  # CWE id -> training examples labelled with it
    source: str  # where the counts come from, for the report

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "prediction": self.prediction,
            "cwe_train_counts": self.cwe_train_counts,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "baseline") -> Baseline:
        try:
            prediction = data["prediction"]
            counts = {str(k): int(v) for k, v in data["cwe_train_counts"].items()}
            source = str(data["source"])
            missing = [k for k in ("cwe", "cvss", "capec", "attack") if k not in prediction]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"{where}: not a majority baseline ({exc})") from exc
        if missing:
            raise ModelError(f"{where}: the baseline prediction lacks {', '.join(missing)}")
        return cls(prediction, counts, source)

    @classmethod
    def from_dataset(cls, dataset: Dataset, catalog: Any, split: str = "train") -> Baseline:
        """Count the labels of ``split`` (the training split) of a built dataset."""
        if dataset.count(split) == 0:
            raise DatasetError(
                f"{dataset.path}: no {split!r} examples to count the majority baseline on"
            )
        cols = dataset.columns(split, ["cwe", *CVSS_COLUMNS, "capec_derived", "attack_derived"])
        baseline = from_labels(
            cwe=cols["cwe"],
            cvss={m: cols[m] for m in CVSS_COLUMNS},
            capec=cols["capec_derived"],
            attack=cols["attack_derived"],
            catalog=catalog,
        )
        baseline.source = f"{split} split of {dataset.path} ({dataset.count(split):,} examples)"
        return baseline


def from_labels(
    cwe: list[list[str]],
    cvss: dict[str, list[str | None]],
    capec: list[list[str]],
    attack: list[list[str]],
    catalog: Any,
) -> Baseline:
    """The baseline of training labels given as columns (as a dataset stores them)."""
    from vulntax.taxonomy.cvss import (
        BASE_METRICS,
        METRIC_VALUE_NAMES,
        metric_values,
        score,
        vector_from_metrics,
    )

    cwe_counts = Counter(c for labels in cwe for c in dict.fromkeys(labels or []))
    cwe_labelled = sum(1 for labels in cwe if labels)
    if not cwe_counts:
        raise DatasetError("no CWE labels in the training split: no majority baseline")
    top_cwe = _top(cwe_counts, cwe_labelled, TOP_K)
    best = catalog.cwe.get(top_cwe[0][0])

    metrics: dict[str, Any] = {}
    for metric in BASE_METRICS:
        counts = Counter(v for v in cvss[metric] if v)
        if not counts:
            raise DatasetError(f"no CVSS {metric} values in the training split: no baseline")
        total = sum(counts.values())
        value = counts.most_common(1)[0][0]
        metrics[metric] = {
            "value": value,
            "name": METRIC_VALUE_NAMES[metric][value],
            "p": _p(counts[value] / total),
            "dist": {v: _p(counts[v] / total) for v in metric_values(metric)},
        }
    scored = score(vector_from_metrics({m: metrics[m]["value"] for m in BASE_METRICS}))

    def links(columns: list[list[str]], entries: Any) -> list[dict[str, Any]]:
        counts = Counter(x for labels in columns for x in dict.fromkeys(labels or []))
        labelled = sum(1 for labels in columns if labels)
        return [
            {"id": x, "name": entries.get(x).name, "p": p} for x, p in _top(counts, labelled, TOP_K)
        ]

    prediction: dict[str, Any] = {
        "id": None,
        "cwe": {
            "id": best.id,
            "name": best.name,
            "path": list(catalog.cwe.path(best.id)),
            "usage": best.usage,
            "confidence": top_cwe[0][1],
            "top": [{"id": c, "name": catalog.cwe.get(c).name, "p": p} for c, p in top_cwe],
            "abstain": top_cwe[0][1] < ABSTAIN_BELOW,
        },
        "cvss": {
            "version": "3.1",
            "vector": scored.vector,
            "base_score": scored.base_score,
            "severity": scored.severity,
            "metrics": metrics,
            "abstain": False,
        },
        "capec": links(capec, catalog.capec),
        "attack": links(attack, catalog.attack),
        "evidence": {"cwe": [], "cvss": {}},
        "model": {"name": NAME, "version": "1"},
        "warnings": [],
    }
    return Baseline(prediction, dict(cwe_counts.most_common()), source="training labels")


def _top(counts: Counter[str], total: int, k: int) -> list[tuple[str, float]]:
    # most frequent first; ties broken by id so that the baseline is deterministic
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [(label, _p(n / total)) for label, n in ranked]


def _p(value: float) -> float:
    return round(float(value), 4)


def from_model_dir(path: str | Path | None) -> Baseline | None:
    """The baseline saved in a model's ``metrics.json`` by training, if it has one.

    ``path`` None means the model shipped with vulntax.
    """
    import json

    from vulntax.models.base import METRICS
    from vulntax.models.named import resolve_model_dir

    file = resolve_model_dir(path) / METRICS
    if not file.is_file():
        return None
    try:
        metrics = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{file}: cannot read the model's metrics ({exc})") from exc
    saved = metrics.get("baseline") if isinstance(metrics, dict) else None
    return None if saved is None else Baseline.from_dict(saved, where=str(file))
