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
* **warnings** and **cvss.abstain** — the model's trust checks
  (:mod:`vulntax.trust`): text that is no vulnerability description, not English,
  or a RESERVED/REJECTED placeholder makes both CWE and CVSS abstain; CVSS also
  abstains when its metrics are too uncertain. The most probable answers stay in
  the object for those who want them.
* **CVSS** — the most probable value of each base metric; the vector is built
  from them and *scored with the cvss library*, never predicted.
* **CAPEC / ATT&CK** — the most probable patterns / techniques, with names.
* **evidence** — the input terms that pushed the CWE and each CVSS metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import ModelError, UsageError
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
    drop_denials: bool = True  # sentences denying a weakness leave the input (trust/negation.py)

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
        self.trust = _load_trust(self.model, model)
        self.catalog = load_catalog(Path(data_dir) if data_dir else None)
        self.decoding = Decoding.from_config(self.model.config)
        config = self.model.config
        self.model_info = {
            "name": str(config.get("name", config["kind"])),
            "version": str(config.get("version", "0")),
        }
        self._cwe_entries = [self.catalog.cwe.get(c) for c in self.model.labels.cwe]
        self._cwe_paths = [self.catalog.cwe.path(c) for c in self.model.labels.cwe]
        self._allowed = [e.usage in ALLOWED_USAGE for e in self._cwe_entries]
        self._name_cache: dict[int, list[str]] = {}
        self._scores: dict[tuple[str, ...], Any] = {}

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
        truncated: list[bool] = []
        for i, (item_id, text) in enumerate(items):
            cleaned = model_input(text[:MAX_TEXT]) if isinstance(text, str) else ""
            if not cleaned:
                results[i] = {"id": item_id, "error": "empty description"}
                continue
            todo.append(i)
            texts.append(_drop_denials(cleaned) if self.decoding.drop_denials else cleaned)
            truncated.append(len(text) > MAX_TEXT)
        if texts:
            output = self.model.predict_batch(texts)
            decoded = self._decode_batch([items[i][0] for i in todo], output)
            _apply_trust(self.trust, decoded, texts, truncated, output, MAX_TEXT)
            for i, result in zip(todo, decoded, strict=True):
                results[i] = result
        return [r for r in results if r is not None]

    # ------------------------------------------------------------------ decoding
    def _decode_batch(self, ids: list[str | None], output: Any) -> list[dict[str, Any]]:
        from vulntax.taxonomy.cvss import BASE_METRICS

        labels = self.model.labels
        k = self.decoding.evidence_terms
        missing = [
            h for h, ok in (("cwe", output.cwe is not None), ("cvss", bool(output.cvss))) if not ok
        ]
        if missing:
            raise ModelError(
                f"model {self.model_info['name']!r} does not predict {' or '.join(missing)}; "
                "serve it inside a composite model beside one that does (vulntax compose --help)"
            )
        cwe_choice = self._decode_cwe(output.cwe)
        cwe_evidence = output.explain("cwe", np.array([c[1] for c in cwe_choice]), k)
        chosen = {m: np.argmax(output.cvss[m], axis=1) for m in BASE_METRICS}
        cvss_evidence = {m: output.explain(m, chosen[m], 3) for m in BASE_METRICS}
        dists = {m: _rounded(output.cvss[m]).tolist() for m in BASE_METRICS}
        capec = self._top_links(output.capec, labels.capec, self.catalog.capec)
        attack = self._top_links(output.attack, labels.attack, self.catalog.attack)
        results = []
        for row, item_id in enumerate(ids):
            metric_choice = {m: int(chosen[m][row]) for m in BASE_METRICS}
            results.append(
                {
                    "id": item_id,
                    "cwe": cwe_choice[row][0],
                    "cvss": self._decode_cvss(
                        metric_choice, {m: dists[m][row] for m in BASE_METRICS}
                    ),
                    "capec": capec[row],
                    "attack": attack[row],
                    "evidence": {
                        "cwe": _terms(cwe_evidence[row]),
                        "cvss": {m: _terms(cvss_evidence[m][row]) for m in BASE_METRICS},
                    },
                    "model": self.model_info,
                }
            )
        return results

    def _decode_cwe(self, probs: np.ndarray) -> list[tuple[dict[str, Any], int]]:
        """Per row: the CWE part of the prediction object, and the chosen class index."""
        k = self.decoding.top_k
        labels = self.model.labels.cwe
        candidates, candidate_p = _top(probs, 4 * k)
        out = []
        for row in range(len(probs)):
            order = candidates[row].tolist()
            best = order[0]
            if not self._allowed[best]:
                # an Allowed descendant at least `prefer_allowed` times as probable fits better
                floor = self.decoding.prefer_allowed * probs[row, best]
                ancestor = labels[best]
                for j in order[1:]:
                    if probs[row, j] < floor:
                        break
                    if self._allowed[j] and ancestor in self._cwe_paths[j]:
                        best = j
                        break
            chosen = self._cwe_entries[best]
            confidence = float(probs[row, best])
            top_p = candidate_p[row].tolist()
            top = [
                {"id": labels[j], "name": self._cwe_entries[j].name, "p": top_p[n]}
                for n, j in enumerate(order[:k])
            ]
            cwe = {
                "id": chosen.id,
                "name": chosen.name,
                "path": list(self._cwe_paths[best]),
                "usage": chosen.usage,
                "confidence": round(min(1.0, max(0.0, confidence)), 4),
                "top": top,
                "abstain": confidence < self.decoding.abstain_below,
            }
            out.append((cwe, best))
        return out

    def _decode_cvss(self, choice: dict[str, int], dists: dict[str, list[float]]) -> dict[str, Any]:
        from vulntax.taxonomy.cvss import METRIC_VALUE_NAMES, score, vector_from_metrics

        metrics: dict[str, Any] = {}
        values = self.model.labels.cvss
        for metric, j in choice.items():
            value = values[metric][j]
            dist = dists[metric]
            metrics[metric] = {
                "value": value,
                "name": METRIC_VALUE_NAMES[metric][value],
                "p": dist[j],
                "dist": dict(zip(values[metric], dist, strict=True)),
            }
        key = tuple(m["value"] for m in metrics.values())
        scored = self._scores.get(key)
        if scored is None:  # at most 2,592 distinct v3.1 base vectors
            vector = vector_from_metrics({m: v["value"] for m, v in metrics.items()}, version="3.1")
            scored = self._scores[key] = score(vector)
        return {
            "version": "3.1",
            "vector": scored.vector,
            "base_score": scored.base_score,
            "severity": scored.severity,
            "metrics": metrics,
        }

    def _top_links(
        self, probs: np.ndarray | None, labels: list[str], catalog: Any
    ) -> list[list[dict[str, Any]]]:
        """Per row, the top_k labels with p >= min_link_p, with names."""
        if probs is None or not labels:
            return [[] for _ in range(0 if probs is None else len(probs))]
        names = self._names(labels, catalog)
        columns, rounded = _top(probs, self.decoding.top_k)
        floor = self.decoding.min_link_p
        return [
            [
                {"id": labels[j], "name": names[j], "p": p}
                for j, p in zip(cols, ps, strict=True)
                if p >= floor
            ]
            for cols, ps in zip(columns.tolist(), rounded.tolist(), strict=True)
        ]

    def _names(self, labels: list[str], catalog: Any) -> list[str]:
        key = id(labels)
        if key not in self._name_cache:
            self._name_cache[key] = [catalog.get(label).name for label in labels]
        return self._name_cache[key]


def _drop_denials(text: str) -> str:
    from vulntax.trust.negation import drop_denials

    return drop_denials(text)


def _load_trust(model: Any, path: str | Path | None) -> Any:
    from vulntax.models import DEFAULT_MODEL_DIR
    from vulntax.trust.model import Trust

    return Trust.for_model(model, DEFAULT_MODEL_DIR if path is None else Path(path))


def _apply_trust(trust: Any, results: list[dict[str, Any]], *args: Any) -> None:
    from vulntax.trust.model import apply

    apply(trust, results, *args)


def _rounded(probs: np.ndarray) -> np.ndarray:
    """Probabilities as 4-decimal float64, clipped to [0, 1] (float error can exceed 1)."""
    return np.round(np.clip(probs.astype(np.float64), 0.0, 1.0), 4)


def _top(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``k`` most probable columns (most probable first) and their rounded p."""
    n = probs.shape[1]
    k = min(k, n)
    if n > k:
        head = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    else:
        head = np.broadcast_to(np.arange(n), (len(probs), n))
    values = np.take_along_axis(probs, head, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    head = np.take_along_axis(head, order, axis=1)
    return head, _rounded(np.take_along_axis(values, order, axis=1))


def _terms(pairs: list[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"term": term, "weight": round(weight, 4)} for term, weight in pairs]
