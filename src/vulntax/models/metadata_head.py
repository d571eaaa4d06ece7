"""The metadata head: corrects a model's CWE and CVSS v3.1 outputs with a record's metadata.

It reads the tokens of :mod:`vulntax.metadata` (CNA, reference hosts and
paths, the CNA's CWE and CVSS vector) and touches *only* rows that carry some:
a description-only input gets the description-only prediction unchanged.

* **CVSS**, per base metric ``m`` with ``k`` values: a metadata-only logistic
  regression (fitted on the training split) gives ``p_meta``; a combiner
  (fitted on the validation split, where the model's own outputs are out of
  sample) mixes it with the model's ``p_text``::

      z = [log p_text | log p_meta]          # (B, 2k)
      p(m) = softmax(z @ A[m] + c[m])        # (B, k)

* **CWE**: the classes the CNA named (mapped to the model's classes through
  the CWE tree) get their probability multiplied by ``exp(alpha)``, then
  renormalised; ``alpha`` is chosen on the validation split.

Saved beside the model as :data:`WEIGHTS` + :data:`CONFIG`; a model directory
without them reads descriptions only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import ModelError
from vulntax.models.calibration import softmax as _softmax
from vulntax.models.persistence import (
    optional_files,
    read_json,
    read_tensors,
    write_json,
    write_tensors,
)

WEIGHTS = "metadata.safetensors"
CONFIG = "metadata.json"
FORMAT_VERSION = 1
EPS = 1e-6


@dataclass
class MetadataHead:
    vocabulary: list[str]  # token of each feature column
    values: dict[str, list[str]]  # v3 metric -> values (the model's order)
    meta_w: dict[str, np.ndarray]  # metric -> (n_tokens, k) metadata-only weights
    meta_b: dict[str, np.ndarray]  # metric -> (k,)
    mix_w: dict[str, np.ndarray]  # metric -> (2k, k) combiner
    mix_b: dict[str, np.ndarray]  # metric -> (k,)
    cwe_alpha: float
    info: dict[str, Any]
    aliases: dict[str, str] = dataclasses.field(default_factory=dict)  # CNA short name -> NVD's

    def __post_init__(self) -> None:
        self._index = {t: i for i, t in enumerate(self.vocabulary)}

    def matrix(self, tokens: Sequence[Sequence[str]]) -> Any:
        """Binary (B, n_tokens) CSR matrix of the known tokens."""
        from scipy.sparse import csr_matrix

        indptr, indices = [0], []
        for row in tokens:
            cols = sorted({self._index[t] for t in row if t in self._index})
            indices.extend(cols)
            indptr.append(len(indices))
        data = np.ones(len(indices), np.float32)
        return csr_matrix((data, indices, indptr), shape=(len(tokens), len(self.vocabulary)))

    def adjust_cvss(self, cvss: dict[str, np.ndarray], x: Any) -> dict[str, np.ndarray]:
        """The combined distributions of rows whose features are ``x`` (B rows of ``cvss``)."""
        out = {}
        for m, p_text in cvss.items():
            p_meta = _softmax(np.asarray(x @ self.meta_w[m]) + self.meta_b[m])
            z = np.hstack([np.log(p_text + EPS), np.log(p_meta + EPS)])
            out[m] = _softmax(z @ self.mix_w[m] + self.mix_b[m])
        return out

    def adjust_cwe(self, probs: np.ndarray, named: Sequence[Sequence[int]]) -> np.ndarray:
        """``probs`` (B, n_cwe) with the classes each row's CNA named boosted."""
        out = probs.copy()
        boost = float(np.exp(self.cwe_alpha))
        for row, cols in enumerate(named):
            if cols:
                out[row, list(cols)] *= boost
                out[row] /= out[row].sum()
        return out

    def save(self, folder: Path) -> None:
        tensors: dict[str, np.ndarray] = {}
        for m in self.values:
            tensors[f"{m}.meta.weight"] = self.meta_w[m].astype(np.float32)
            tensors[f"{m}.meta.bias"] = self.meta_b[m].astype(np.float32)
            tensors[f"{m}.mix.weight"] = self.mix_w[m].astype(np.float32)
            tensors[f"{m}.mix.bias"] = self.mix_b[m].astype(np.float32)
        write_tensors(folder / WEIGHTS, tensors)
        config = {
            "format_version": FORMAT_VERSION,
            "vocabulary": self.vocabulary,
            "values": self.values,
            "cwe_alpha": self.cwe_alpha,
            "aliases": self.aliases,
            "info": self.info,
        }
        write_json(folder / CONFIG, config, indent=1, ensure_ascii=True)

    @classmethod
    def load(cls, folder: Path) -> MetadataHead | None:
        """The head saved in ``folder``; ``None`` if there is none; ModelError if corrupt."""
        if not optional_files(folder, WEIGHTS, CONFIG):
            return None
        try:
            config = read_json(folder / CONFIG, "metadata head config")
            if config.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"format version {config.get('format_version')!r}")
            t = read_tensors(folder / WEIGHTS)
            vocabulary = [str(v) for v in config["vocabulary"]]
            values = {str(m): list(v) for m, v in config["values"].items()}
            parts: dict[str, dict[str, np.ndarray]] = {p: {} for p in ("mw", "mb", "xw", "xb")}
            what = "the head's vocabulary and values"
            for m, v in values.items():
                k = len(v)
                parts["mw"][m] = t.shaped(f"{m}.meta.weight", (len(vocabulary), k), what)
                parts["mb"][m] = t.shaped(f"{m}.meta.bias", (k,), what)
                parts["xw"][m] = t.shaped(f"{m}.mix.weight", (2 * k, k), what)
                parts["xb"][m] = t.shaped(f"{m}.mix.bias", (k,), what)
            alpha = float(config["cwe_alpha"])
            aliases = {str(k): str(v) for k, v in config.get("aliases", {}).items()}
        except (ModelError, ValueError, KeyError, TypeError, AttributeError) as exc:
            what = f"{folder}: corrupt metadata head ({CONFIG}/{WEIGHTS}: {exc})"
            raise ModelError(what) from exc
        return cls(
            vocabulary,
            values,
            parts["mw"],
            parts["mb"],
            parts["xw"],
            parts["xb"],
            alpha,
            dict(config.get("info", {})),
            aliases,
        )


def cwe_class_mapper(labels: Sequence[str], catalog: Any) -> Callable[[str], int | None]:
    """raw CWE id -> the model's class for it: itself, else its nearest View-1000 ancestor."""
    index = {c: i for i, c in enumerate(labels)}
    cache: dict[str, int | None] = {}

    def lookup(cwe: str) -> int | None:
        if cwe not in cache:
            found = index.get(cwe)
            if found is None:
                try:
                    path = catalog.cwe.path(cwe)
                except Exception:  # an id the catalog does not know: no class
                    path = ()
                found = next((index[a] for a in reversed(path) if a in index), None)
            cache[cwe] = found
        return cache[cwe]

    return lookup
