"""The optional heads stacked on a model's outputs, as the Predictor runs them.

A model directory may hold a CVSS v4.0 head (``cvss4.*``) and a metadata head
(``metadata.*``) beside the model's own files; each is fitted on that model's
outputs by ``python bench/records/fit.py``. Without them the predictor answers
as before: no ``cvss4``, descriptions only.

Order: the model's text-only outputs → the CVSS v4.0 head (it reads the
text-only v3.1 and CWE outputs) → the metadata head adjusts the v3.1 and CWE
outputs of the rows that carry metadata.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import ModelError
from vulntax.metadata import RecordMeta, from_record
from vulntax.models.cvss4_head import Cvss4Head
from vulntax.models.metadata_head import MetadataHead, cwe_class_mapper

V3_METRICS = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")


class StackedHeads:
    def __init__(
        self, cvss4: Cvss4Head | None, metadata: MetadataHead | None, model: Any, catalog: Any
    ):
        self.cvss4 = cvss4
        self.metadata = metadata
        self._to_class = cwe_class_mapper(model.labels.cwe, catalog) if metadata else None
        self._scores: dict[tuple[str, ...], Any] = {}

    @classmethod
    def load(cls, where: str | Path | None, model: Any, catalog: Any) -> StackedHeads:
        from vulntax.models import DEFAULT_MODEL_DIR

        folder = DEFAULT_MODEL_DIR if where is None else Path(where)
        cvss4 = Cvss4Head.load(folder)
        v3 = {m: list(model.labels.cvss.get(m, [])) for m in V3_METRICS}
        if cvss4 is not None:
            cvss4.check_inputs(v3, model.labels.cwe)
        metadata = MetadataHead.load(folder)
        if metadata is not None and metadata.values != v3:
            raise ModelError(
                f"{folder}: the metadata head was fitted on other CVSS values than this model's; "
                "fit it again (python bench/records/fit.py --help)"
            )
        return cls(cvss4, metadata, model, catalog)

    def apply(self, output: Any, metas: Sequence[Any] | None) -> tuple[Any, list[dict[str, Any]]]:
        """The adjusted model output, and per row the extra fields of its prediction object."""
        rows = len(output.cwe) if output.cwe is not None else 0
        extra: list[dict[str, Any]] = [{} for _ in range(rows)]
        if self.cvss4 is not None:
            probs = self.cvss4.probabilities(self.cvss4.features(output.cvss, output.cwe))
            for row, block in enumerate(self._decode_cvss4(probs)):
                extra[row]["cvss4"] = block
        if self.metadata is None:
            return output, extra
        parsed = [_as_meta(m) for m in metas] if metas is not None else [None] * rows
        for row, meta in enumerate(parsed):
            extra[row]["metadata"] = meta.fields() if meta is not None else []
        carrying = [i for i, m in enumerate(parsed) if m is not None]
        if not carrying:
            return output, extra
        head = self.metadata
        x = head.matrix([parsed[i].tokens(head.aliases) for i in carrying])  # type: ignore[union-attr]
        adjusted = head.adjust_cvss({m: output.cvss[m][carrying] for m in V3_METRICS}, x)
        cvss = {m: p.copy() for m, p in output.cvss.items()}
        for m in V3_METRICS:
            cvss[m][carrying] = adjusted[m]
        assert self._to_class is not None
        named = []
        for i in carrying:
            cols = {self._to_class(c) for c in parsed[i].cna_cwes}  # type: ignore[union-attr]
            named.append(sorted(c for c in cols if c is not None))
        cwe = output.cwe.copy()
        cwe[carrying] = head.adjust_cwe(output.cwe[carrying], named)
        return dataclasses.replace(output, cwe=cwe, cvss=cvss), extra

    def _decode_cvss4(self, probs: dict[str, np.ndarray]) -> list[dict[str, Any]]:
        from vulntax.taxonomy import cvss4

        assert self.cvss4 is not None
        values = self.cvss4.values
        order = list(values)
        full = {m: [cvss4.METRIC_VALUE_NAMES[m][v] for v in values[m]] for m in order}
        chosen = {m: probs[m].argmax(axis=1).tolist() for m in order}
        rounded = {
            m: np.round(np.clip(probs[m].astype(np.float64), 0, 1), 4).tolist() for m in order
        }
        out = []
        for row in range(len(chosen[order[0]])):
            metrics = {}
            key = []
            for m in order:
                j = chosen[m][row]
                dist = rounded[m][row]
                names = values[m]
                metrics[m] = {
                    "value": names[j],
                    "name": full[m][j],
                    "p": dist[j],
                    "dist": dict(zip(names, dist)),  # noqa: B905 - same length by construction
                }
                key.append(j)
            scored = self._scores.get(tuple(key))
            if scored is None:
                vector = cvss4.vector_from_metrics({m: v["value"] for m, v in metrics.items()})
                scored = self._scores[tuple(key)] = cvss4.score(vector)
            out.append(
                {
                    "version": "4.0",
                    "vector": scored.vector,
                    "base_score": scored.base_score,
                    "severity": scored.severity,
                    "metrics": metrics,
                }
            )
        return out


def _as_meta(value: Any) -> RecordMeta | None:
    if value is None or isinstance(value, RecordMeta):
        return value
    from vulntax.records import CveRecord

    if isinstance(value, CveRecord):
        return from_record(value)
    raise TypeError(f"metadata must be a RecordMeta or a CveRecord, not {type(value).__name__}")
