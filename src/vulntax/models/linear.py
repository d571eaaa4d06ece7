"""Model kind ``linear``: TF-IDF word n-grams + one linear SVM per head.

* **features** — word 1–2-grams, sublinear tf-idf (:mod:`vulntax.models.tfidf`);
* **CWE** — one multi-class LinearSVC over the rolled-up CWE classes
  (:func:`vulntax.models.data.cwe_roll_up`);
* **CVSS** — one LinearSVC per base metric (AV, AC, PR, UI, S, C, I, A);
* **probabilities** — softmax of the SVM scores with a temperature per head
  fitted on the calibration split (:mod:`vulntax.models.calibration`);
* **CAPEC / ATT&CK** — from the CWE distribution through the catalog graph:
  p(pattern) = Σ p(cwe) over the CWEs the catalog links to the pattern, i.e.
  the probability that the weakness is one the pattern exploits;
* **size** — each head keeps only its largest weights (``keep_weights``, the
  share of weights kept per head), stored as float16 CSR in safetensors.

Training imports scikit-learn; prediction needs only numpy and scipy.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vulntax.errors import ModelError
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


@dataclass
class LinearConfig:
    max_features: int = 150_000
    min_df: int = 2
    C_cwe: float = 0.5
    C_cvss: float = 0.5
    keep_weights: float = 0.05  # share of each head's weights kept (largest |w|)

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


@dataclass
class _Head:
    """One linear head: scores = X @ weights.T + bias; probabilities = softmax(scores / T)."""

    weights: Any  # scipy CSR (n_labels, n_features), float32 values (stored as float16)
    bias: np.ndarray  # (n_labels,) float32
    temperature: float = 1.0
    # weights.T as CSR (n_features, n_labels), made on first use: `x @ weights.T` would
    # convert the whole matrix on every call (~85 % of a single prediction's time)
    _by_feature: Any = field(default=None, init=False, repr=False, compare=False)

    def scores(self, x: Any) -> np.ndarray:
        if self._by_feature is None:
            self._by_feature = self.weights.T.tocsr()
        return np.asarray((x @ self._by_feature).toarray(), dtype=np.float32) + self.bias

    def row_weights(self, label: int, cols: np.ndarray) -> np.ndarray:
        """``weights[label, cols]`` as a dense (len(cols),) array, without densifying the row."""
        if not self.weights.has_sorted_indices:
            self.weights.sort_indices()
        lo, hi = self.weights.indptr[label], self.weights.indptr[label + 1]
        indices = self.weights.indices[lo:hi]  # sorted feature numbers of the row's weights
        if not len(indices):
            return np.zeros(len(cols), dtype=np.float32)
        at = np.minimum(np.searchsorted(indices, cols), len(indices) - 1)
        found = indices[at] == cols
        return np.where(found, self.weights.data[lo:hi][at], 0).astype(np.float32)

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
        attack_links: Any,  # CSR (n_cwe, n_attack) of 0/1
    ):
        self.config = config
        self.labels = labels
        self.features = features
        self.cwe = cwe
        self.cvss = cvss
        self.capec_links = capec_links
        self.attack_links = attack_links
        self._terms: list[str] | None = None

    # ------------------------------------------------------------------ prediction
    def predict_batch(self, texts: Sequence[str]) -> ModelOutput:
        x = self.features.transform(texts)  # (B, F) CSR
        cwe = self.cwe.probabilities(x)  # (B, n_cwe)
        cvss = {m: head.probabilities(x) for m, head in self.cvss.items()}
        capec = np.asarray(self.capec_links.T.dot(cwe.T).T, dtype=np.float32)  # (B, n_capec)
        attack = np.asarray(self.attack_links.T.dot(cwe.T).T, dtype=np.float32)

        def explain(row: int, head: str, label: int, k: int) -> list[tuple[str, float]]:
            weights = self.cwe if head == "cwe" else self.cvss[head]
            start, end = x.indptr[row], x.indptr[row + 1]
            cols, vals = x.indices[start:end], x.data[start:end]
            contrib = vals * weights.row_weights(label, cols)
            order = np.argsort(-contrib)[:k]
            terms = self.terms
            return [(terms[cols[j]], float(contrib[j])) for j in order if contrib[j] > 0]

        return ModelOutput(cwe=cwe, cvss=cvss, capec=capec, attack=attack, explain=explain)

    @property
    def terms(self) -> list[str]:
        if self._terms is None:
            self._terms = self.features.terms
        return self._terms

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
    ) -> LinearModel:
        return train(meta, params, train_examples, calibration_examples, cwe_classes, catalog, log)

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
        save_file(tensors, str(path / WEIGHTS))
        with gzip.open(path / VOCABULARY, "wt", encoding="utf-8") as handle:
            json.dump(self.terms, handle, ensure_ascii=False, separators=(",", ":"))
        write_json(path / LABELS, self.labels.to_dict())
        write_json(path / CONFIG, self.config)

    @classmethod
    def load(cls, path: Path) -> LinearModel:
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
            features = TfidfFeatures({str(term): i for i, term in enumerate(terms)}, idf)
            n_features = len(idf)
            cwe = _get_head(t, "cwe", (len(labels.cwe), n_features))
            cvss = {
                m: _get_head(t, f"cvss.{m}", (len(v), n_features)) for m, v in labels.cvss.items()
            }
            capec = _get_csr(t, "capec.links", (len(labels.cwe), len(labels.capec)))
            attack = _get_csr(t, "attack.links", (len(labels.cwe), len(labels.attack)))
        except KeyError as exc:
            raise ModelError(f"{weights_file}: tensor {exc} is missing") from exc
        return cls(config, labels, features, cwe, cvss, capec, attack)


# ---------------------------------------------------------------------- training
def train(
    config: dict[str, Any],
    params: LinearConfig,
    train_examples: Any,
    calibration_examples: Any,
    cwe_classes: dict[str, str | None],
    catalog: Any,
    log: Any = print,
) -> LinearModel:
    """Fit every head on ``train_examples`` and calibrate on ``calibration_examples``."""
    from sklearn.svm import LinearSVC

    from vulntax.taxonomy.cvss import BASE_METRICS, metric_values

    started = time.perf_counter()
    vectorizer = sklearn_vectorizer(params.max_features, params.min_df)
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
        cal_column = calibration_examples.cvss[metric]
        cal_rows = [i for i, v in enumerate(cal_column) if v is not None]
        cal_y = np.array([vindex[cal_column[i]] for i in cal_rows])
        head.temperature = fit_temperature(head.scores(x_cal[cal_rows]), cal_y)
        cvss_labels[metric], cvss_heads[metric] = values, head
    log(f"CVSS: 8 metrics ({time.perf_counter() - started:.0f} s)")

    capec_labels, capec_links = _links(cwe_labels, catalog.graph.cwe_to_capec)
    attack_labels, attack_links = _links(cwe_labels, catalog.graph.cwe_to_attack)
    labels = Labels(cwe=cwe_labels, cvss=cvss_labels, capec=capec_labels, attack=attack_labels)
    full_config = {"kind": LinearModel.kind, "format_version": FORMAT_VERSION, **config}
    return LinearModel(
        full_config, labels, features, cwe_head, cvss_heads, capec_links, attack_links
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
