"""The one prediction API behind the CLI, the HTTP service and Python users.

:class:`Predictor` loads a model (the shipped default unless told otherwise)
and the taxonomy catalog, and turns the model's per-head probabilities into
prediction objects (``docs/prediction.schema.json``). Decoding is the same for
every model kind:

* **CWE** — the most probable class, with its display path in View 1000
  (always a real path: it comes from the catalog). If that class is
  Discouraged or Prohibited and one of its Allowed descendants is at least
  ``prefer_allowed`` times as probable, the Allowed one is answered instead.
  ``abstain`` is set when the confidence is below ``abstain_below``
  (probabilities are calibrated, so below 0.5 the answer is more likely wrong
  than right).
* **CVSS** — the most probable value of each base metric; the vector is built
  from them and *scored with the cvss library*, never predicted.
* **CAPEC / ATT&CK** — the most probable patterns / techniques, with names.
* **evidence** — the input terms that pushed the CWE and each CVSS metric.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import UsageError
from vulntax.text import model_input

ALLOWED_USAGE = ("Allowed", "Allowed-with-Review")
MAX_TEXT = 20_000  # characters; longer inputs are truncated (NVD descriptions average ~300)


@dataclass(frozen=True)
class Decoding:
    top_k: int = 5  # CWE alternatives, CAPEC patterns and ATT&CK techniques listed
    abstain_below: float = 0.5
    prefer_allowed: float = 0.5
    evidence_terms: int = 5
    min_link_p: float = 0.01  # CAPEC / ATT&CK entries less probable than this are not listed

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Decoding:
        known = {
            k: v for k, v in config.get("decoding", {}).items() if k in cls.__dataclass_fields__
        }
        return cls(**known)


class Predictor:
    def __init__(self, model: str | Path | None = None, data_dir: str | Path | None = None):
        from vulntax.models import load_model
        from vulntax.taxonomy import load_catalog

        self.model = load_model(model)
        self.catalog = load_catalog(Path(data_dir) if data_dir else None)
        self.decoding = Decoding.from_config(self.model.config)
        config = self.model.config
        self.model_info = {
            "name": str(config.get("name", config["kind"])),
            "version": str(config.get("version", "0")),
        }
        self._cwe_entries = [self.catalog.cwe.get(c) for c in self.model.labels.cwe]
        self._cwe_paths = [self.catalog.cwe.path(c) for c in self.model.labels.cwe]
        self._cwe_index = {c: i for i, c in enumerate(self.model.labels.cwe)}

    # ------------------------------------------------------------------ public API
    def predict(self, text: str, id: str | None = None) -> dict[str, Any]:
        """One prediction object, or a UsageError for empty text."""
        result = self.predict_batch([(id, text)])[0]
        if "error" in result:
            raise UsageError(result["error"])
        return result

    def predict_batch(self, items: Sequence[tuple[str | None, str]]) -> list[dict[str, Any]]:
        """Prediction objects in input order; an unusable text gets an error object."""
        results: list[dict[str, Any] | None] = [None] * len(items)
        todo: list[int] = []
        texts: list[str] = []
        for i, (item_id, text) in enumerate(items):
            cleaned = model_input(text[:MAX_TEXT]) if isinstance(text, str) else ""
            if not cleaned:
                results[i] = {"id": item_id, "error": "empty description"}
                continue
            todo.append(i)
            texts.append(cleaned)
        if texts:
            output = self.model.predict_batch(texts)
            for row, i in enumerate(todo):
                results[i] = self._decode(items[i][0], output, row)
        return [r for r in results if r is not None]

    def predict_stream(
        self, items: Iterable[tuple[str | None, str] | dict[str, Any]], batch_size: int = 512
    ) -> Iterator[dict[str, Any]]:
        """Predict an iterable lazily, batch by batch; items may be ready-made error objects."""
        batch: list[tuple[str | None, str] | dict[str, Any]] = []
        for item in items:
            batch.append(item)
            if len(batch) >= batch_size:
                yield from self._flush(batch)
                batch = []
        if batch:
            yield from self._flush(batch)

    # ------------------------------------------------------------------ decoding
    def _flush(self, batch: list[tuple[str | None, str] | dict[str, Any]]) -> list[dict[str, Any]]:
        pairs = [(i, b) for i, b in enumerate(batch) if isinstance(b, tuple)]
        predicted = iter(self.predict_batch([b for _, b in pairs]))
        return [next(predicted) if isinstance(b, tuple) else b for b in batch]

    def _decode(self, item_id: str | None, output: Any, row: int) -> dict[str, Any]:
        cwe, cwe_label = self._decode_cwe(output.cwe[row])
        cvss = self._decode_cvss({m: p[row] for m, p in output.cvss.items()})
        k = self.decoding.evidence_terms
        evidence: dict[str, Any] = {
            "cwe": _terms(output.explain(row, "cwe", cwe_label, k)),
            "cvss": {
                m: _terms(output.explain(row, m, values.index(cvss["metrics"][m]["value"]), 3))
                for m, values in self.model.labels.cvss.items()
            },
        }
        return {
            "id": item_id,
            "cwe": cwe,
            "cvss": cvss,
            "capec": self._top_links(
                output.capec, row, self.model.labels.capec, self.catalog.capec
            ),
            "attack": self._top_links(
                output.attack, row, self.model.labels.attack, self.catalog.attack
            ),
            "evidence": evidence,
            "model": self.model_info,
        }

    def _decode_cwe(self, p: np.ndarray) -> tuple[dict[str, Any], int]:
        order = np.argsort(-p)
        best = int(order[0])
        entry = self._cwe_entries[best]
        if entry.usage not in ALLOWED_USAGE:
            ancestor = self.model.labels.cwe[best]
            for j in order[1 : 4 * self.decoding.top_k]:
                j = int(j)
                if p[j] < self.decoding.prefer_allowed * p[best]:
                    break
                if self._cwe_entries[j].usage in ALLOWED_USAGE and ancestor in self._cwe_paths[j]:
                    best = j
                    break
        chosen = self._cwe_entries[best]
        confidence = float(p[best])
        top = [
            {
                "id": self.model.labels.cwe[int(j)],
                "name": self._cwe_entries[int(j)].name,
                "p": _p(p[int(j)]),
            }
            for j in order[: self.decoding.top_k]
        ]
        return (
            {
                "id": chosen.id,
                "name": chosen.name,
                "path": list(self._cwe_paths[best]),
                "usage": chosen.usage,
                "confidence": _p(confidence),
                "top": top,
                "abstain": confidence < self.decoding.abstain_below,
            },
            best,
        )

    def _decode_cvss(self, dists: dict[str, np.ndarray]) -> dict[str, Any]:
        from vulntax.taxonomy.cvss import (
            BASE_METRICS,
            METRIC_VALUE_NAMES,
            score,
            vector_from_metrics,
        )

        metrics: dict[str, Any] = {}
        for metric in BASE_METRICS:
            values = self.model.labels.cvss[metric]
            p = dists[metric]
            j = int(np.argmax(p))
            metrics[metric] = {
                "value": values[j],
                "name": METRIC_VALUE_NAMES[metric][values[j]],
                "p": _p(p[j]),
                "dist": {v: _p(p[i]) for i, v in enumerate(values)},
            }
        vector = vector_from_metrics({m: metrics[m]["value"] for m in BASE_METRICS}, version="3.1")
        scored = score(vector)
        return {
            "version": "3.1",
            "vector": scored.vector,
            "base_score": scored.base_score,
            "severity": scored.severity,
            "metrics": metrics,
        }

    def _top_links(
        self, probs: np.ndarray | None, row: int, labels: list[str], catalog: Any
    ) -> list[dict[str, Any]]:
        if probs is None or not labels:
            return []
        p = probs[row]
        order = np.argsort(-p)[: self.decoding.top_k]
        return [
            {"id": labels[int(j)], "name": catalog.get(labels[int(j)]).name, "p": _p(p[int(j)])}
            for j in order
            if p[int(j)] >= self.decoding.min_link_p
        ]


def _p(value: float) -> float:
    return round(min(1.0, max(0.0, float(value))), 4)


def _terms(pairs: list[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"term": term, "weight": round(weight, 4)} for term, weight in pairs]
