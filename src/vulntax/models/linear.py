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

Training imports scikit-learn; prediction needs only numpy and scipy.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vulntax.errors import ModelError
from vulntax.models.attack_mapper import (
    AttackMapper,
    fit_attack_mapper,
    gold_pillars,
    one_hot_cvss,
    pillar_matrix,
)
from vulntax.models.base import (
    CONFIG,
    FORMAT_VERSION,
    LABELS,
    WEIGHTS,
    Labels,
    ModelOutput,
    read_json,
    write_json,
)
from vulntax.models.calibration import fit_temperature, softmax
from vulntax.models.tfidf import TfidfFeatures, sklearn_vectorizer

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
        from safetensors.numpy import save_file

        path.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, np.ndarray] = {"tfidf.idf": self.features.idf.astype(np.float32)}
        _put_head(tensors, "cwe", self.cwe)
        for metric, head in self.cvss.items():
            _put_head(tensors, f"cvss.{metric}", head)
        _put_csr(tensors, "capec.links", self.capec_links, np.uint8)
        _put_csr(tensors, "attack.links", self.attack_links, np.uint8)
        if self.mapper is not None:
            tensors["attack.mapper.weights"] = self.mapper.weights.astype(np.float32)
            tensors["attack.mapper.bias"] = self.mapper.bias.astype(np.float32)
            assert self._pillar is not None
            tensors["attack.mapper.cwe_pillar"] = self._pillar.astype(np.uint8)
        save_file(tensors, str(path / WEIGHTS))
        (path / WEIGHTS).chmod(0o644)  # safetensors writes 0600: keep installed copies readable

        with gzip.open(path / VOCABULARY, "wt", encoding="utf-8") as handle:
            json.dump(self.terms, handle, ensure_ascii=False, separators=(",", ":"))
        write_json(path / LABELS, self.labels.to_dict())
        write_json(path / CONFIG, self.config)

    @classmethod
    def load(cls, path: Path, extras: bool = True) -> LinearModel:
        """The model at ``path``; with ``extras``, its optional heads too (models.extras)."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        config = read_json(path / CONFIG, "model config")
        labels = Labels.from_dict(read_json(path / LABELS, "label lists"))
        weights_file = path / WEIGHTS
        if not weights_file.is_file():
            raise ModelError(f"{path}: not a complete model directory ({WEIGHTS} is missing)")
        try:
            t = load_file(str(weights_file))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelError(f"{weights_file}: not a readable safetensors file ({exc})") from exc
        try:
            with gzip.open(path / VOCABULARY, "rt", encoding="utf-8") as handle:
                terms = json.load(handle)
        except (OSError, EOFError, ValueError) as exc:
            raise ModelError(f"{path / VOCABULARY}: cannot read the vocabulary ({exc})") from exc
        try:
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
            cvss = {
                m: _get_head(t, f"cvss.{m}", (len(v), n_features)) for m, v in labels.cvss.items()
            }
            capec = _get_csr(t, "capec.links", (len(labels.cwe), len(labels.capec)))
            graph = config.get("attack_graph") or labels.attack

            attack = _get_csr(t, "attack.links", (len(labels.cwe), len(graph)))
            mapper, cwe_pillar = None, None
            if "attack.mapper.weights" in t:
                pillars = list(config.get("attack_mapper", {}).get("pillars", []))
                weights, bias = t["attack.mapper.weights"], t["attack.mapper.bias"]
                n_shared = sum(len(v) for v in labels.cvss.values()) + len(pillars)
                if weights.shape != (len(labels.attack), n_shared + 1) or bias.shape != (
                    len(labels.attack),
                ):
                    raise ModelError(
                        f"{weights_file}: ATT&CK mapper weights do not match the labels"
                    )
                mapper = AttackMapper(list(labels.attack), pillars, weights, bias)
                cwe_pillar = t["attack.mapper.cwe_pillar"].astype(np.float32)
                if cwe_pillar.shape != (len(labels.cwe), len(pillars)):
                    raise ModelError(f"{weights_file}: ATT&CK mapper pillars do not match")
        except KeyError as exc:
            raise ModelError(f"{weights_file}: tensor {exc} is missing") from exc
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


# ---------------------------------------------------------------------- training
def train(
    config: dict[str, Any],
    params: LinearConfig,
    train_examples: Any,
    calibration_examples: Any,
    cwe_classes: dict[str, str | None],
    catalog: Any,
    log: Any = print,
    temperatures: dict[str, float] | None = None,
) -> LinearModel:
    """Fit every head on ``train_examples`` and calibrate on ``calibration_examples``.

    With ``temperatures`` (from an earlier, calibrated fit) no calibration is done.
    """
    from sklearn.svm import LinearSVC

    from vulntax.models.augment import with_damaged_copies
    from vulntax.taxonomy.cvss import BASE_METRICS, metric_values

    started = time.perf_counter()
    vectorizer = sklearn_vectorizer(params.max_features, params.min_df)
    if params.augment_halves or params.augment_misspell:
        vectorizer.fit(train_examples.texts)  # the vocabulary and idf of the real texts
        train_examples = with_damaged_copies(
            train_examples, params.augment_halves, params.augment_misspell
        )
        x_train = vectorizer.transform(train_examples.texts)
    else:
        x_train = vectorizer.fit_transform(train_examples.texts)
    features = TfidfFeatures.from_sklearn(vectorizer)
    x_cal = features.transform(calibration_examples.texts)
    log(
        f"features: {x_train.shape[1]:,} terms from {x_train.shape[0]:,} texts "
        f"({time.perf_counter() - started:.0f} s)"
    )

    # CWE: first policy label of each example, mapped to its rolled-up class
    targets = [(i, _first_class(g, cwe_classes)) for i, g in enumerate(train_examples.cwe_gold)]
    labelled = [(i, c) for i, c in targets if c is not None]
    rows = [i for i, _ in labelled]
    cwe_labels = sorted({c for _, c in labelled}, key=_cwe_number)
    index = {c: i for i, c in enumerate(cwe_labels)}
    y = np.array([index[c] for _, c in labelled])
    svm = LinearSVC(C=params.C_cwe).fit(x_train[rows], y)
    cwe_head = _head_from_svm(svm, len(cwe_labels), params.keep_weights)
    if temperatures:
        cwe_head.temperature = temperatures["cwe"]
    else:
        cal_rows, cal_y = _calibration_targets(calibration_examples.cwe_gold, cwe_classes, index)
        cwe_head.temperature = fit_temperature(cwe_head.scores(x_cal[cal_rows]), cal_y)
    log(
        f"CWE: {len(cwe_labels)} classes from {len(rows):,} examples, T={cwe_head.temperature:.3f} "
        f"({time.perf_counter() - started:.0f} s)"
    )

    cvss_labels: dict[str, list[str]] = {}
    cvss_heads: dict[str, _Head] = {}
    for metric in BASE_METRICS:
        values = list(metric_values(metric))
        vindex = {v: i for i, v in enumerate(values)}
        column = train_examples.cvss[metric]
        rows = [i for i, v in enumerate(column) if v is not None]
        y = np.array([vindex[column[i]] for i in rows])
        present = sorted(set(y.tolist()))
        if len(present) < 2:
            raise ModelError(f"CVSS {metric}: the training data has only one value; cannot train")
        svm = LinearSVC(C=params.C_cvss).fit(x_train[rows], y)
        head = _head_from_svm(svm, len(values), params.keep_weights)
        if temperatures:
            head.temperature = temperatures[metric]
        else:
            cal_column = calibration_examples.cvss[metric]
            cal_rows = [i for i, v in enumerate(cal_column) if v is not None]
            cal_y = np.array([vindex[cal_column[i]] for i in cal_rows])
            head.temperature = fit_temperature(head.scores(x_cal[cal_rows]), cal_y)
        cvss_labels[metric], cvss_heads[metric] = values, head
    log(f"CVSS: 8 metrics ({time.perf_counter() - started:.0f} s)")

    capec_labels, capec_links = _links(cwe_labels, catalog.graph.cwe_to_capec)
    graph_labels, attack_links = _links(cwe_labels, catalog.graph.cwe_to_attack)
    mapper = _fit_mapper(
        train_examples,
        x_train,
        cwe_head,
        cvss_heads,
        cvss_labels,
        cwe_labels,
        graph_labels,
        attack_links,
        catalog,
    )
    attack_labels = graph_labels if mapper is None else mapper.techniques
    n_mapped = sum(1 for t in train_examples.attack_kev if t)
    log(
        f"ATT&CK: {len(attack_labels)} techniques "
        + (
            "through the catalog graph (too few analyst mappings)"
            if mapper is None
            else f"learnt from {n_mapped} analyst mappings"
        )
    )
    labels = Labels(cwe=cwe_labels, cvss=cvss_labels, capec=capec_labels, attack=attack_labels)
    full_config = {
        "kind": LinearModel.kind,
        "format_version": FORMAT_VERSION,
        **config,
        "attack_graph": graph_labels,
        "attack_mapper": {"pillars": mapper.pillars} if mapper else None,
    }
    pillar = None
    if mapper is not None:
        pillar = pillar_matrix(cwe_labels, mapper.pillars, catalog)
    return LinearModel(
        full_config,
        labels,
        features,
        cwe_head,
        cvss_heads,
        capec_links,
        attack_links,
        mapper,
        pillar,
    )


def _fit_mapper(
    examples: Any,
    x_train: Any,
    cwe_head: _Head,
    cvss_heads: dict[str, _Head],
    cvss_labels: dict[str, list[str]],
    cwe_labels: list[str],
    graph_labels: list[str],
    attack_links: Any,
    catalog: Any,
) -> AttackMapper | None:
    """The ATT&CK mapper, fitted on the training records that have analyst mappings."""
    rows = [i for i, t in enumerate(examples.attack_kev) if t]
    if not rows:
        return None
    x = x_train[rows]
    cwe = cwe_head.probabilities(x)
    pillars = sorted(catalog.cwe.roots(), key=_cwe_number)
    pillar = pillar_matrix(cwe_labels, pillars, catalog)
    cvss = {
        m: one_hot_cvss([examples.cvss[m][i] for i in rows], cvss_labels[m], h.probabilities(x))
        for m, h in cvss_heads.items()
    }
    cwe_pillars = gold_pillars([examples.cwe_gold[i] for i in rows], cwe @ pillar, pillars, catalog)
    graph = np.asarray(attack_links.T.dot(cwe.T).T, dtype=np.float32)
    graph_probs = {t: graph[:, j] for j, t in enumerate(graph_labels)}
    return fit_attack_mapper(
        [examples.attack_kev[i] for i in rows], cvss, cwe_pillars, graph_probs, pillars
    )


def _cwe_number(cwe_id: str) -> int:
    return int(cwe_id.split("-")[1])


def _first_class(gold: list[str], classes: dict[str, str | None]) -> str | None:
    for label in gold:
        target = classes.get(label)
        if target is not None:
            return target
    return None


def _calibration_targets(
    gold: list[list[str]], classes: dict[str, str | None], index: dict[str, int]
) -> tuple[list[int], np.ndarray]:
    rows, ys = [], []
    for i, labels in enumerate(gold):
        target = _first_class(labels, classes)
        if target is not None and target in index:
            rows.append(i)
            ys.append(index[target])
    return rows, np.array(ys, dtype=np.int64)


def _head_from_svm(svm: Any, n_labels: int, keep: float) -> _Head:
    """A head from a fitted LinearSVC; binary SVMs become two symmetric rows."""
    from scipy.sparse import csr_matrix

    coef = svm.coef_.astype(np.float32)
    bias = svm.intercept_.astype(np.float32)
    classes = svm.classes_
    if coef.shape[0] == 1:  # binary: score ±d/2 so that softmax gives sigmoid(d)
        coef = np.vstack([-coef / 2, coef / 2])
        bias = np.array([-bias[0] / 2, bias[0] / 2], dtype=np.float32)
    full = np.zeros((n_labels, coef.shape[1]), dtype=np.float32)
    full_bias = np.full(n_labels, -1e4, dtype=np.float32)  # values never seen in training
    full[classes] = coef
    full_bias[classes] = bias
    if keep < 1:
        magnitude = np.abs(full)
        k = max(1, int(keep * magnitude.size))
        threshold = np.partition(magnitude.ravel(), -k)[-k]
        full[magnitude < threshold] = 0
    weights = csr_matrix(full.astype(np.float16).astype(np.float32))
    return _Head(weights, full_bias)


def _links(cwe_labels: list[str], link: Any) -> tuple[list[str], Any]:
    from scipy.sparse import csr_matrix

    targets = sorted({t for c in cwe_labels for t in link(c)}, key=lambda s: (len(s), s))
    index = {t: j for j, t in enumerate(targets)}
    rows, cols = [], []
    for i, c in enumerate(cwe_labels):
        for t in link(c):
            rows.append(i)
            cols.append(index[t])
    data = np.ones(len(rows), dtype=np.float32)
    return targets, csr_matrix((data, (rows, cols)), shape=(len(cwe_labels), len(targets)))


# ---------------------------------------------------------------------- tensors
def _put_head(t: dict[str, np.ndarray], name: str, head: _Head) -> None:
    _put_csr(t, f"{name}.weights", head.weights, np.float16)
    t[f"{name}.bias"] = head.bias.astype(np.float32)
    t[f"{name}.temperature"] = np.array([head.temperature], dtype=np.float32)


def _get_head(t: dict[str, np.ndarray], name: str, shape: tuple[int, int]) -> _Head:
    weights = _get_csr(t, f"{name}.weights", shape)
    bias = t[f"{name}.bias"].astype(np.float32)
    if bias.shape != (shape[0],):
        raise ModelError(f"{name}: bias has shape {bias.shape}, expected ({shape[0]},)")
    return _Head(weights, bias, float(t[f"{name}.temperature"][0]))


def _put_csr(t: dict[str, np.ndarray], name: str, matrix: Any, dtype: Any) -> None:
    m = matrix.tocsr()
    t[f"{name}.data"] = m.data.astype(dtype)
    t[f"{name}.indices"] = m.indices.astype(np.int32)
    t[f"{name}.indptr"] = m.indptr.astype(np.int64)


def _get_csr(t: dict[str, np.ndarray], name: str, shape: tuple[int, int]) -> Any:
    from scipy.sparse import csr_matrix

    data, indices, indptr = t[f"{name}.data"], t[f"{name}.indices"], t[f"{name}.indptr"]
    if (
        len(indptr) != shape[0] + 1
        or len(indices) != len(data)
        or (len(indices) and (indices.min() < 0 or indices.max() >= shape[1]))
        or indptr[-1] != len(data)
    ):
        raise ModelError(f"{name}: stored matrix does not match the label lists (shape {shape})")
    return csr_matrix((data.astype(np.float32), indices, indptr), shape=shape)
