"""Model kind ``linear``: TF-IDF word n-grams + one linear SVM per head.

* **features** — word 1–2-grams, sublinear tf-idf (:mod:`vulntax.models.tfidf`);
* **CWE** — one multi-class LinearSVC over the rolled-up CWE classes
  (:func:`vulntax.models.data.cwe_roll_up`);
* **CVSS** — one LinearSVC per base metric (AV, AC, PR, UI, S, C, I, A);
* **probabilities** — softmax of the SVM scores with a temperature per head
  fitted on the calibration split (:mod:`vulntax.models.calibration`);
* **CAPEC** — from the CWE distribution through the catalog graph:
  p(pattern) = Σ p(cwe) over the CWEs the catalog links to the pattern, i.e.
  the probability that the weakness is one the pattern exploits;
* **ATT&CK** — the analysts' kind of technique (exploitation and impact),
  from the predicted CVSS and CWE distributions by the
  :mod:`~vulntax.models.attack_mapper`, learnt from the KEV analyst mappings;
  where a training set has too few of those, from the catalog graph like CAPEC;
* **size** — each head keeps only its largest weights (``keep_weights``, the
  share of weights kept per head), stored as float16 CSR in safetensors.

Training (:mod:`vulntax.models.linear_fit`) imports scikit-learn; prediction needs only numpy
and scipy.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vulntax.errors import ModelError
from vulntax.models.attack_mapper import (
    AttackMapper,
)
from vulntax.models.base import Labels, ModelOutput
from vulntax.models.calibration import softmax
from vulntax.models.persistence import Tensors, put_csr, read_model, write_model
from vulntax.models.tfidf import TfidfFeatures

VOCABULARY = "vocabulary.json.gz"  # the tf-idf terms, in column order
# a head's weights are looked up in a dense copy up to this size (evidence; the shipped
# model's CWE head takes 77 MB as float16), else by binary search (several times slower)
DENSE_LOOKUP_BYTES = 128 * 1024 * 1024
DENSE_LOOKUP_ROWS = 64  # smaller batches use the binary search (no table to build)


@dataclass
class LinearConfig:
    max_features: int = 150_000
    min_df: int = 2
    C_cwe: float = 0.5
    C_cvss: float = 0.5
    keep_weights: float = 0.05  # share of each head's weights kept (largest |w|)
    augment_halves: float = 0.0  # share of training examples added again cut short
    augment_misspell: float = 0.0  # share added again with misspelt words (models/augment.py)

    def __post_init__(self) -> None:
        from vulntax.errors import ConfigError

        if self.max_features < 10:
            raise ConfigError("linear.max_features must be at least 10")
        if self.min_df < 1:
            raise ConfigError("linear.min_df must be at least 1")
        if self.C_cwe <= 0 or self.C_cvss <= 0:
            raise ConfigError("linear.C_cwe and linear.C_cvss must be positive")
        if not 0 < self.keep_weights <= 1:
            raise ConfigError("linear.keep_weights must be in (0, 1]")
        if not (0 <= self.augment_halves <= 1 and 0 <= self.augment_misspell <= 1):
            raise ConfigError("linear.augment_halves and augment_misspell must be in [0, 1]")


@dataclass
class _Head:
    """One linear head: scores = X @ weights.T + bias; probabilities = softmax(scores / T)."""

    weights: Any  # scipy CSR (n_labels, n_features), float32 values (stored as float16)
    bias: np.ndarray  # (n_labels,) float32
    temperature: float = 1.0

    _table: np.ndarray | None = None  # weights as a dense (n_labels, n_features) array
    _keys: np.ndarray | None = None  # sorted (label * n_features + column) of stored weights
    _dense_fits: bool = True  # false once the dense copy was found too large

    def lookup(self, labels: np.ndarray) -> Any:
        """A function (rows, cols) -> weight of the label of each row at each column.

        For batches of :data:`DENSE_LOOKUP_ROWS` rows or more, a dense copy of the weights
        answers by indexing when it is small enough (:data:`DENSE_LOOKUP_BYTES`; float16 when
        the weights are float16 values, as saved models' are; building it takes ≈ 0.4 s for
        the shipped CWE head, so single predictions never wait for it); otherwise a binary
        search over the stored weights' keys does.
        """
        w = self.weights
        if self._table is None and len(labels) >= DENSE_LOOKUP_ROWS and self._dense_fits:
            exact16 = np.array_equal(w.data.astype(np.float16).astype(np.float32), w.data)
            dtype = np.float16 if exact16 else np.float32
            if w.shape[0] * w.shape[1] * np.dtype(dtype).itemsize <= DENSE_LOOKUP_BYTES:
                full = np.zeros(w.shape, dtype=dtype)  # (n_labels, n_features)
                rows = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
                full[rows, w.indices] = w.data  # exact: float16 only when the values are
                self._table = full
            else:
                self._dense_fits = False
        if self._table is None and self._keys is None:
            w.sort_indices()
            rows = np.repeat(np.arange(w.shape[0], dtype=np.int64), np.diff(w.indptr))
            self._keys = rows * w.shape[1] + w.indices  # CSR order, sorted indices: sorted
        table = self._table
        if table is not None:

            def dense(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
                return table[labels[rows], cols].astype(np.float32)

            return dense

        def weight(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
            assert self._keys is not None
            keys = labels[rows].astype(np.int64) * w.shape[1] + cols
            pos = np.searchsorted(self._keys, keys)
            pos = np.minimum(pos, len(self._keys) - 1)
            hit = self._keys[pos] == keys if len(self._keys) else np.zeros(len(keys), bool)
            return np.where(hit, w.data[pos] if len(w.data) else 0.0, 0.0).astype(np.float32)

        return weight

    _transposed: Any = None  # weights.T as CSR, made once (scipy would convert it per call)

    def scores(self, x: Any) -> np.ndarray:
        if self._transposed is None:
            self._transposed = self.weights.T.tocsr()
        return np.asarray((x @ self._transposed).toarray(), dtype=np.float32) + self.bias

    def probabilities(self, x: Any) -> np.ndarray:
        return softmax(self.scores(x), self.temperature)


class LinearModel:
    kind: ClassVar[str] = "linear"
    Config: ClassVar[type] = LinearConfig

    def __init__(
        self,
        config: dict[str, Any],
        labels: Labels,
        features: TfidfFeatures,
        cwe: _Head,
        cvss: dict[str, _Head],
        capec_links: Any,  # CSR (n_cwe, n_capec) of 0/1
        attack_links: Any,  # CSR (n_cwe, n_graph_techniques) of 0/1
        mapper: AttackMapper | None = None,
        cwe_pillar: np.ndarray | None = None,
    ):
        self.config = config
        self.labels = labels
        self.features = features
        self.cwe = cwe
        self.cvss = cvss
        self.capec_links = capec_links
        self.attack_links = attack_links
        self.mapper = mapper
        self.graph_techniques: list[str] = list(config.get("attack_graph") or labels.attack)
        self._pillar = cwe_pillar  # (n_cwe, n_pillars): the mapper's CWE features
        self.attack_head: Any = None  # optional extra heads (vulntax.models.extras)
        self.capec_ranker: Any = None
        self.own_labels = labels  # the label lists the tensors fit (attach() widens .labels)
        self.heads_from: Path | None = None  # the directory the extra heads came from

    # ------------------------------------------------------------------ prediction
    def predict_batch(self, texts: Sequence[str]) -> ModelOutput:
        return self.predict_features(self.features.transform(texts))

    def predict_features(self, x: Any) -> ModelOutput:
        """The heads' probabilities for tf-idf rows ``x`` ((B, F) CSR)."""
        cwe, cvss = self._probabilities(x)
        capec = np.asarray(self.capec_links.T.dot(cwe.T).T, dtype=np.float32)  # (B, n_capec)
        graph = np.asarray(self.attack_links.T.dot(cwe.T).T, dtype=np.float32)  # (B, n_graph)
        attack = graph if self.mapper is None else self._map_attack(cvss, cwe, graph)
        if self.capec_ranker is not None:
            capec = self.capec_ranker.probabilities(x, cwe, self.capec_links)
        if self.attack_head is not None:
            attack = self.attack_head.probabilities(x, np.hstack(list(cvss.values())), cwe)

        def explain(head: str, labels: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
            weights = self.cwe if head == "cwe" else self.cvss[head]
            return _top_contributions(x, weights.lookup(labels), labels, k, self.terms)

        return ModelOutput(
            cwe=cwe, cvss=cvss, capec=capec, attack=attack, explain=explain, features=x
        )

    _stacked: Any = None  # every head's weights.T side by side (F, sum of labels), made once

    def _probabilities(self, x: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The CWE and CVSS heads' probabilities, from one sparse product for all heads."""
        import scipy.sparse as sp

        heads = [self.cwe, *self.cvss.values()]
        if self._stacked is None:
            self._stacked = sp.hstack([h.weights.T for h in heads], format="csr")
        scores = np.asarray((x @ self._stacked).toarray(), dtype=np.float32)
        out: list[np.ndarray] = []
        start = 0
        for head in heads:
            end = start + len(head.bias)
            out.append(softmax(scores[:, start:end] + head.bias, head.temperature))
            start = end
        return out[0], dict(zip(self.cvss, out[1:], strict=True))

    def _map_attack(
        self, cvss: dict[str, np.ndarray], cwe: np.ndarray, graph: np.ndarray
    ) -> np.ndarray:
        assert self.mapper is not None
        assert self._pillar is not None
        index = {t: j for j, t in enumerate(self.graph_techniques)}
        columns = [index.get(t, -1) for t in self.mapper.techniques]
        by_technique = np.zeros((len(cwe), len(columns)), dtype=np.float32)
        for j, col in enumerate(columns):
            if col >= 0:
                by_technique[:, j] = graph[:, col]
        return self.mapper.probabilities(cvss, cwe, self._pillar, by_technique)

    @property
    def terms(self) -> list[str]:
        return self.features.terms

    @classmethod
    def fit(
        cls,
        meta: dict[str, Any],
        params: LinearConfig,
        train_examples: Any,
        calibration_examples: Any,
        cwe_classes: dict[str, str | None],
        catalog: Any,
        log: Any = print,
        temperatures: dict[str, float] | None = None,
    ) -> LinearModel:
        from vulntax.models.linear_fit import train

        return train(
            meta,
            params,
            train_examples,
            calibration_examples,
            cwe_classes,
            catalog,
            log,
            temperatures,
        )

    def temperatures(self) -> dict[str, float]:
        """The fitted temperature of every head (reused when refitting)."""
        return {"cwe": self.cwe.temperature, **{m: h.temperature for m, h in self.cvss.items()}}

    # ------------------------------------------------------------------ persistence
    def save(self, path: Path) -> None:
        tensors: dict[str, np.ndarray] = {"tfidf.idf": self.features.idf.astype(np.float32)}
        _put_head(tensors, "cwe", self.cwe)
        for metric, head in self.cvss.items():
            _put_head(tensors, f"cvss.{metric}", head)
        put_csr(tensors, "capec.links", self.capec_links, np.uint8)
        put_csr(tensors, "attack.links", self.attack_links, np.uint8)
        if self.mapper is not None:
            tensors["attack.mapper.weights"] = self.mapper.weights.astype(np.float32)
            tensors["attack.mapper.bias"] = self.mapper.bias.astype(np.float32)
            assert self._pillar is not None
            tensors["attack.mapper.cwe_pillar"] = self._pillar.astype(np.uint8)

        def vocabulary(file: Path) -> None:
            with gzip.open(file, "wt", encoding="utf-8") as handle:
                json.dump(self.terms, handle, ensure_ascii=False, separators=(",", ":"))

        write_model(path, self.config, self.own_labels, tensors, {VOCABULARY: vocabulary})
        from vulntax.models.extras import head_files

        if self.heads_from is not None and self.heads_from.resolve() != path.resolve():
            for name in head_files(self):  # the extra heads, as they were loaded
                shutil.copyfile(self.heads_from / name, path / name)

    @classmethod
    def load(cls, path: Path, extras: bool = True) -> LinearModel:
        """The model at ``path``; with ``extras``, its optional heads too (models.extras)."""
        saved = read_model(path, requires=(VOCABULARY,))
        config, labels, t = saved.config, saved.labels, saved.tensors
        try:
            with gzip.open(path / VOCABULARY, "rt", encoding="utf-8") as handle:
                terms = json.load(handle)
        except (OSError, EOFError, ValueError) as exc:
            raise ModelError(f"{path / VOCABULARY}: cannot read the vocabulary ({exc})") from exc
        idf = t["tfidf.idf"]
        if not isinstance(terms, list) or len(terms) != len(idf):
            raise ModelError(f"{path}: vocabulary and idf weights differ in length")
        if not all(isinstance(term, str) for term in terms):
            raise ModelError(f"{path / VOCABULARY}: the vocabulary must be a list of strings")
        try:
            features = TfidfFeatures.from_terms(terms, idf)
        except ValueError as exc:
            raise ModelError(f"{path / VOCABULARY}: {exc}") from None
        n_features = len(idf)
        cwe = _get_head(t, "cwe", (len(labels.cwe), n_features))
        cvss = {m: _get_head(t, f"cvss.{m}", (len(v), n_features)) for m, v in labels.cvss.items()}
        capec = t.csr("capec.links", (len(labels.cwe), len(labels.capec)))
        graph = config.get("attack_graph") or labels.attack
        attack = t.csr("attack.links", (len(labels.cwe), len(graph)))
        mapper, cwe_pillar = None, None
        if "attack.mapper.weights" in t:
            pillars = list(config.get("attack_mapper", {}).get("pillars", []))
            n_shared = sum(len(v) for v in labels.cvss.values()) + len(pillars)
            weights = t.shaped("attack.mapper.weights", (len(labels.attack), n_shared + 1))
            bias = t.shaped("attack.mapper.bias", (len(labels.attack),))
            mapper = AttackMapper(list(labels.attack), pillars, weights, bias)
            shape = (len(labels.cwe), len(pillars))
            what = "the label lists and the ATT&CK mapper's pillars"
            cwe_pillar = t.shaped("attack.mapper.cwe_pillar", shape, what).astype(np.float32)
        from vulntax.models.extras import attach

        model = cls(config, labels, features, cwe, cvss, capec, attack, mapper, cwe_pillar)
        if extras:  # attack.* and capec_rank.* files, where the directory has them
            attach(model, path)
        return model


def _top_contributions(
    x: Any, weight: Any, labels: np.ndarray, k: int, terms: list[str]
) -> list[list[tuple[str, float]]]:
    """Per row, the k terms with the largest positive x[row, term] * w[label(row), term].

    Ties keep column order. One sort for the whole batch: the key is the row in the high
    32 bits and the contribution's float32 bits, inverted, in the low 32 (positive floats
    order as their bit patterns do).
    """
    n = x.shape[0]
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(x.indptr))
    cols = x.indices
    contrib = (x.data * weight(rows, cols)).astype(np.float32)
    keep = np.flatnonzero(contrib > 0)
    rows, cols, contrib = rows[keep], cols[keep], contrib[keep]
    inverted = np.uint32(0xFFFFFFFF) - contrib.view(np.uint32)
    order = np.argsort((rows.astype(np.uint64) << np.uint64(32)) | inverted, kind="stable")
    rows, cols, contrib = rows[order], cols[order], contrib[order]
    starts = np.searchsorted(rows, np.arange(n))
    rank = np.arange(len(rows)) - starts[rows]
    top = rank < k
    out: list[list[tuple[str, float]]] = [[] for _ in range(n)]
    for r, c, v in zip(rows[top].tolist(), cols[top].tolist(), contrib[top].tolist(), strict=True):
        out[r].append((terms[c], v))
    return out


# ---------------------------------------------------------------------- persistence
def _put_head(t: dict[str, np.ndarray], name: str, head: _Head) -> None:
    put_csr(t, f"{name}.weights", head.weights, np.float16)
    t[f"{name}.bias"] = head.bias.astype(np.float32)
    t[f"{name}.temperature"] = np.array([head.temperature], dtype=np.float32)


def _get_head(t: Tensors, name: str, shape: tuple[int, int]) -> _Head:
    weights = t.csr(f"{name}.weights", shape)
    bias = t.shaped(f"{name}.bias", (shape[0],)).astype(np.float32)
    return _Head(weights, bias, float(t.shaped(f"{name}.temperature", (1,))[0]))
