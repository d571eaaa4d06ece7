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
* **CVSS 4.0** (``cvss4``, where the model directory holds the v4.0 head:
  :mod:`vulntax.models.cvss4_head`) — the most probable value of each of the
  eleven base metrics, read from the model's v3.1 and CWE outputs; the vector
  is scored with the cvss library's ``CVSS4``.
* **metadata** (where the model directory holds the metadata head:
  :mod:`vulntax.models.metadata_head`) — a record's CNA, references and the
  CNA's own CWE and CVSS vector adjust the CWE and CVSS v3.1 outputs of the
  rows that carry them (``metadata`` lists what was read); description-only
  input is predicted exactly as without the head.
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
        from vulntax.models.named import resolve_model_dir, spelling
        from vulntax.taxonomy import load_catalog

        folder = resolve_model_dir(model)  # None, a shipped model's name, or a directory
        self.model = load_model(model)
        self.trust = _load_trust(self.model, folder)
        self.catalog = load_catalog(Path(data_dir) if data_dir else None)
        #: where the model and catalogs came from: Predictor(**source) loads the same again
        self.source: dict[str, str | None] = {
            "model": spelling(model),
            "data_dir": None if data_dir is None else str(data_dir),
        }
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
        self._scores: dict[tuple[int, ...], Any] = {}  # CVSS value indices -> score
        from vulntax.predictor_heads import StackedHeads

        self.heads = StackedHeads.load(folder, self.model, self.catalog)

    # ------------------------------------------------------------------ public API
    def predict(self, text: str, id: str | None = None, metadata: Any = None) -> dict[str, Any]:
        """One prediction object, or a UsageError for empty text.

        ``metadata``: a :class:`vulntax.metadata.RecordMeta` or a record (optional).
        """
        result = self.predict_batch([(id, text)], metadata=[metadata])[0]
        if "error" in result:
            raise UsageError(result["error"])
        return result

    def predict_batch(
        self,
        items: Sequence[tuple[str | None, str] | tuple[str | None, str, Any]],
        metadata: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Prediction objects in input order; an unusable text gets an error object.

        ``metadata`` (optional, one per item): a :class:`vulntax.metadata.RecordMeta`, a
        :class:`vulntax.records.CveRecord`, or None; an item may also carry it third.
        """
        if metadata is None and any(len(item) > 2 for item in items):  # (id, text, metadata)
            metadata = [item[2] if len(item) > 2 else None for item in items]
        results: list[dict[str, Any] | None] = [None] * len(items)
        todo: list[int] = []
        texts: list[str] = []
        truncated: list[bool] = []
        for i, item in enumerate(items):
            item_id, text = item[0], item[1]
            cleaned = model_input(text[:MAX_TEXT]) if isinstance(text, str) else ""
            if not cleaned:
                results[i] = {"id": item_id, "error": "empty description"}
                continue
            todo.append(i)
            texts.append(_drop_denials(cleaned) if self.decoding.drop_denials else cleaned)
            truncated.append(len(text) > MAX_TEXT)
        if texts:
            output = self.model.predict_batch(texts)
            metas = [metadata[i] for i in todo] if metadata is not None else None
            output, extra = self.heads.apply(output, metas)
            decoded = self._decode_batch([items[i][0] for i in todo], output)
            for result, more in zip(decoded, extra, strict=True):
                result.update(more)
            _apply_trust(self.trust, decoded, texts, truncated, output, MAX_TEXT)
            for result in decoded:  # the v4.0 score rests on the v3.1 one: it abstains with it
                if "cvss4" in result and "abstain" in result["cvss"]:
                    result["cvss4"]["abstain"] = result["cvss"]["abstain"]
            for i, result in zip(todo, decoded, strict=True):
                results[i] = result
        return [r for r in results if r is not None]

    # ------------------------------------------------------------------ decoding
    # Decoding builds the objects column by column (one comprehension per field over the
    # whole batch, label names and CVSS scores looked up once), then zips the columns into
    # one object per row: the per-record Python work is what limits throughput.
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
        cwe, cwe_best = self._decode_cwe(output.cwe)
        cwe_evidence = _terms_column(output.explain("cwe", cwe_best, k))
        chosen = {m: np.argmax(output.cvss[m], axis=1) for m in BASE_METRICS}
        cvss_evidence = [_terms_column(output.explain(m, chosen[m], 3)) for m in BASE_METRICS]
        cvss = self._decode_cvss(chosen, output.cvss)
        capec = self._top_links(output.capec, labels.capec, self.catalog.capec)
        attack = self._top_links(output.attack, labels.attack, self.catalog.attack)
        model = self.model_info
        return [
            {
                "id": item_id,
                "cwe": cwe_row,
                "cvss": cvss_row,
                "capec": capec_row,
                "attack": attack_row,
                "evidence": {
                    "cwe": cwe_terms,
                    "cvss": dict(zip(BASE_METRICS, cvss_terms, strict=True)),
                },
                "model": model,
            }
            for item_id, cwe_row, cvss_row, capec_row, attack_row, cwe_terms, *cvss_terms in zip(
                ids, cwe, cvss, capec, attack, cwe_evidence, *cvss_evidence, strict=True
            )
        ]

    def _decode_cwe(self, probs: np.ndarray) -> tuple[list[dict[str, Any]], np.ndarray]:
        """The CWE part of each row's prediction object, and the chosen class indices."""
        k = self.decoding.top_k
        labels = self.model.labels.cwe
        names = self._names(labels, self.catalog.cwe)
        candidates, candidate_p = _top(probs, 4 * k)
        raw = np.take_along_axis(probs, candidates, axis=1).tolist()  # unrounded, same order
        below = self.decoding.abstain_below
        out = []
        best_of_rows = []
        for row, (order, top_p, raw_p) in enumerate(
            zip(candidates.tolist(), candidate_p.tolist(), raw, strict=True)
        ):
            best = order[0]
            confidence = raw_p[0]
            if not self._allowed[best]:
                # an Allowed descendant at least `prefer_allowed` times as probable fits better
                floor = self.decoding.prefer_allowed * probs[row, best]
                ancestor = labels[best]
                for n, j in enumerate(order[1:], start=1):
                    if probs[row, j] < floor:
                        break
                    if self._allowed[j] and ancestor in self._cwe_paths[j]:
                        best, confidence = j, raw_p[n]
                        break
            chosen = self._cwe_entries[best]
            best_of_rows.append(best)
            out.append(
                {
                    "id": chosen.id,
                    "name": chosen.name,
                    "path": list(self._cwe_paths[best]),
                    "usage": chosen.usage,
                    "confidence": round(min(1.0, max(0.0, confidence)), 4),
                    "top": [
                        {"id": labels[j], "name": names[j], "p": p}
                        for j, p in zip(order[:k], top_p, strict=False)
                    ],
                    "abstain": confidence < below,
                }
            )
        return out, np.array(best_of_rows, dtype=np.int64)

    def _decode_cvss(
        self, chosen: dict[str, np.ndarray], probs: dict[str, np.ndarray]
    ) -> list[dict[str, Any]]:
        """The CVSS part of each row's prediction object; vectors scored once per distinct one."""
        from vulntax.taxonomy.cvss import METRIC_VALUE_NAMES, score, vector_from_metrics

        values = self.model.labels.cvss
        columns = []  # per metric, the metric objects of every row
        choices = []
        for metric, picked in chosen.items():
            names = [METRIC_VALUE_NAMES[metric][v] for v in values[metric]]
            vals = values[metric]
            picks = picked.tolist()
            columns.append(
                [
                    {
                        "value": vals[j],
                        "name": names[j],
                        "p": dist[j],
                        "dist": dict(zip(vals, dist, strict=True)),
                    }
                    for j, dist in zip(picks, _rounded(probs[metric]).tolist(), strict=True)
                ]
            )
            choices.append(picks)
        metrics = list(chosen)
        out = []
        rows = zip(zip(*choices, strict=True), zip(*columns, strict=True), strict=True)
        for key, row_metrics in rows:
            scored = self._scores.get(key)
            if scored is None:  # at most 2,592 distinct v3.1 base vectors
                vector = vector_from_metrics(
                    {m: values[m][j] for m, j in zip(metrics, key, strict=True)}, version="3.1"
                )
                scored = self._scores[key] = score(vector)
            out.append(
                {
                    "version": "3.1",
                    "vector": scored.vector,
                    "base_score": scored.base_score,
                    "severity": scored.severity,
                    "metrics": dict(zip(metrics, row_metrics, strict=True)),
                }
            )
        return out

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


def _terms_column(rows: list[list[tuple[str, float]]]) -> list[list[dict[str, Any]]]:
    """Evidence terms of every row as ``{"term", "weight"}`` objects (weights to 4 decimals)."""
    weights = iter(round4([w for pairs in rows for _, w in pairs]))
    return [[{"term": t, "weight": next(weights)} for t, _ in pairs] for pairs in rows]


def round4(values: list[float]) -> list[float]:
    """``[round(v, 4) for v in values]``, exactly, rounded by numpy.

    ``rint(v * 1e4) / 1e4`` is Python's correctly rounded answer unless ``v * 1e4`` lies
    within its own rounding error of a half (then the product may round either way): those
    values, and non-finite or huge ones, are rounded by Python.
    """
    a = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # inf and nan are rounded by Python
        scaled = a * 1e4
        out = (np.rint(scaled) / 1e4).tolist()
        doubtful = ~(np.abs(scaled) < 1e12) | (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6)
    for i in np.flatnonzero(doubtful).tolist():
        out[i] = round(values[i], 4)
    return out
