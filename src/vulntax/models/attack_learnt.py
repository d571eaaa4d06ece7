"""ATT&CK techniques learnt from the analysts' own mappings (KEV + CTID).

The analysts map a CVE to the technique used to exploit it (T1190, T1203,
T1068, …) and the techniques its impact enables (T1059, T1499.004, …). This
head learns them from every analyst mapping there is — the CISA KEV mappings
of CTID's Mappings Explorer *and* CTID's "ATT&CK to CVE" set — with one
L2-regularised logistic regression per technique over three feature blocks:

* ``text`` — the linear model's own TF-IDF row of the description (B, F);
* ``cvss`` — the predicted distribution of the eight CVSS base metrics (B, 22);
* ``cwe`` — the predicted CWE distribution over the model's classes (B, n_cwe).

Each block is scaled by its weight in :class:`AttackSettings` before the fit.
With ``knn_weight`` > 0 the probabilities are blended with a vote of the
``neighbours`` training rows most cosine-similar to the description (their
techniques, weighted by similarity squared); the training rows' TF-IDF vectors
and techniques are kept in the file for it (no description text).
Technique ids are the current ones (revoked ids followed through the catalog's
``revoked-by`` chain when the gold is read); sub-techniques stay sub-techniques
and the evaluation also scores them rolled up to their parent.

Files (beside a linear model's own): ``attack.safetensors`` (``text.columns``
(the n terms any technique weighs), ``text.weights`` (T, n) float16, ``dense``
(T, 22 + n_cwe), ``bias`` (T,), and, only when the vote is on,
``memory.*`` (the training rows as CSR) and ``memory.labels`` (N, T) uint8) and ``attack.json`` (the
technique list, the settings, what it was fitted on). A model directory
without them keeps the older KEV-only mapper (:mod:`.attack_mapper`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import ConfigError, ModelError
from vulntax.models.persistence import (
    optional_files,
    put_csr,
    read_json,
    read_tensors,
    write_json,
    write_tensors,
)

ATTACK_WEIGHTS = "attack.safetensors"
ATTACK_CONFIG = "attack.json"
FORMAT = "vulntax-attack"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class AttackSettings:
    C: float = 1.0  # inverse L2 strength of each technique's logistic regression
    min_positives: int = 2  # techniques with fewer training CVEs are not learnt
    text_weight: float = 1.0
    cvss_weight: float = 1.0
    cwe_weight: float = 1.0
    knn_weight: float = 0.0  # share of the nearest training rows' vote in the blend
    neighbours: int = 30

    def __post_init__(self) -> None:
        if self.C <= 0:
            raise ConfigError("attack.C must be positive")
        if self.min_positives < 1:
            raise ConfigError("attack.min_positives must be at least 1")
        if min(self.text_weight, self.cvss_weight, self.cwe_weight) < 0:
            raise ConfigError("attack feature weights must not be negative")
        if not 0 <= self.knn_weight <= 1 or self.neighbours < 1:
            raise ConfigError("attack.knn_weight must be in [0, 1], attack.neighbours >= 1")


@dataclass
class LearntAttack:
    techniques: list[str]  # output order
    text: Any  # scipy CSR (T, F) float32
    dense: np.ndarray  # (T, n_cvss + n_cwe) float32: CVSS values, then CWE classes
    bias: np.ndarray  # (T,) float32
    settings: AttackSettings
    memory: Any = None  # CSR (N, F): the training rows' L2-normalised TF-IDF, for the vote
    memory_labels: np.ndarray | None = None  # (N, T) uint8: their techniques
    _text_t: Any = None

    def probabilities(self, x: Any, cvss: np.ndarray, cwe: np.ndarray) -> np.ndarray:
        """(B, T) probabilities from the TF-IDF rows ``x`` (B, F) and predicted distributions."""
        s = self.settings
        dense = np.hstack([s.cvss_weight * cvss, s.cwe_weight * cwe]).astype(np.float32)
        if self._text_t is None:  # (F, T) CSR, made once (scipy would transpose per call)
            self._text_t = self.text.T.tocsr()
        z = s.text_weight * np.asarray((x @ self._text_t).toarray(), dtype=np.float32)
        z += dense @ self.dense.T + self.bias  # (B, T)
        p = 1.0 / (1.0 + np.exp(-z))
        if s.knn_weight > 0 and self.memory is not None and self.memory_labels is not None:
            p = (1 - s.knn_weight) * p + s.knn_weight * self.vote(x)
        return p.astype(np.float32)

    def vote(self, x: Any) -> np.ndarray:
        """(B, T): the techniques of the ``neighbours`` most cosine-similar training rows,
        weighted by similarity squared."""
        assert self.memory is not None and self.memory_labels is not None
        sims = np.asarray((_normalised(x) @ self.memory.T).toarray(), dtype=np.float32)  # (B, N)
        k = min(self.settings.neighbours, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]  # (B, k)
        w = np.take_along_axis(sims, top, axis=1) ** 2
        votes = np.einsum("bk,bkt->bt", w, self.memory_labels[top].astype(np.float32))
        return votes / np.maximum(w.sum(axis=1, keepdims=True), 1e-9)


def cvss_block(cvss: dict[str, np.ndarray]) -> np.ndarray:
    """The eight metric distributions side by side, in the model's metric order (B, 22)."""
    return np.hstack(list(cvss.values())).astype(np.float32)


def fit(
    x: Any,
    cvss: np.ndarray,
    cwe: np.ndarray,
    gold: Sequence[Sequence[str]],
    settings: AttackSettings,
) -> LearntAttack:
    """One logistic regression per technique with ``min_positives`` CVEs in ``gold``."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    counts = Counter(t for ids in gold for t in set(ids))
    techniques = sorted(
        (t for t, n in counts.items() if n >= settings.min_positives), key=technique_key
    )
    if not techniques:
        raise ModelError("no ATT&CK technique has enough analyst mappings to learn from")
    s = settings
    features = sp.hstack(
        [s.text_weight * x, sp.csr_matrix(np.hstack([s.cvss_weight * cvss, s.cwe_weight * cwe]))],
        format="csr",
    )
    n_text = x.shape[1]
    used = np.unique(features.indices)  # columns no training row has keep weight 0 under L2
    compact = features[:, used].tocsr()  # (N, n_used)
    weights = np.zeros((len(techniques), features.shape[1]), dtype=np.float32)
    bias = np.zeros(len(techniques), dtype=np.float32)
    for j, technique in enumerate(techniques):
        y = np.array([technique in ids for ids in gold])
        if y.all():
            bias[j] = 6.0
            continue
        # the dual solver: far fewer rows than columns (≈ 100× faster than the primal here)
        clf = LogisticRegression(
            C=s.C, solver="liblinear", dual=True, max_iter=2000, random_state=0
        )
        clf.fit(compact, y)
        weights[j, used] = clf.coef_[0]
        bias[j] = clf.intercept_[0]
    text = sp.csr_matrix(weights[:, :n_text])  # zero where no training text has the term
    index = {t: j for j, t in enumerate(techniques)}
    labels = np.zeros((len(gold), len(techniques)), dtype=np.uint8)
    for i, ids in enumerate(gold):
        labels[i, [index[t] for t in ids if t in index]] = 1
    memory = _normalised(x)
    return LearntAttack(
        techniques, text, weights[:, n_text:].copy(), bias, settings, memory, labels
    )


def _normalised(x: Any) -> Any:
    """Rows scaled to unit L2 norm (empty rows stay empty), CSR."""
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1))).ravel()
    return x.multiply(1.0 / np.maximum(norms, 1e-12)[:, None]).tocsr()


# ---------------------------------------------------------------------- persistence
def save(model: LearntAttack, folder: Path, about: dict[str, Any]) -> None:
    text = model.text.tocsr()
    columns = np.unique(text.indices)  # the terms any technique weighs: shared by all rows
    tensors = {
        "text.columns": columns.astype(np.int32),
        "text.weights": text[:, columns].toarray().astype(np.float16),  # (T, n_columns)
        "dense": model.dense.astype(np.float32),
        "bias": model.bias.astype(np.float32),
    }
    if model.settings.knn_weight > 0 and model.memory is not None:
        assert model.memory_labels is not None
        put_csr(tensors, "memory", model.memory, np.float16)
        tensors["memory.labels"] = model.memory_labels.astype(np.uint8)
    write_tensors(folder / ATTACK_WEIGHTS, tensors)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "techniques": model.techniques,
        "settings": asdict(model.settings),
        **about,
    }
    write_json(folder / ATTACK_CONFIG, config, ensure_ascii=True)


def load(folder: Path, n_features: int, n_dense: int) -> LearntAttack | None:
    """The learnt head of a model directory; None if it has none; ModelError if damaged."""
    weights_file, config_file = folder / ATTACK_WEIGHTS, folder / ATTACK_CONFIG
    if not optional_files(folder, ATTACK_WEIGHTS, ATTACK_CONFIG):
        return None
    from scipy.sparse import csr_matrix

    config = read_json(config_file, "ATT&CK head config")
    try:
        techniques = [str(t) for t in config["techniques"]]
        settings = AttackSettings(**config["settings"])
        if config.get("format") != FORMAT or config.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"{config_file}: not a {FORMAT} v{FORMAT_VERSION} file")
    except (ValueError, KeyError, TypeError, AttributeError, ConfigError) as exc:
        raise ModelError(f"{config_file}: not a readable ATT&CK head config ({exc})") from exc
    t = read_tensors(weights_file)
    n = len(techniques)
    what = "this model's labels"
    columns = t["text.columns"].astype(np.int64)
    weights = t.shaped("text.weights", (n, len(columns)), what)
    dense = t.shaped("dense", (n, n_dense), what).astype(np.float32)
    bias = t.shaped("bias", (n,), what).astype(np.float32)
    if len(columns) and (columns.min() < 0 or columns.max() >= n_features):
        raise ModelError(f"{weights_file}: the ATT&CK head does not fit this model's labels")
    rows = np.repeat(np.arange(n), len(columns))
    cols = np.tile(columns, n)
    text = csr_matrix((weights.astype(np.float32).ravel(), (rows, cols)), shape=(n, n_features))
    memory, labels = None, None
    if "memory.labels" in t:
        labels = t["memory.labels"]
        if labels.ndim != 2 or labels.shape[1] != n:
            raise ModelError(f"{weights_file}: the ATT&CK head's memory does not fit")
        memory = t.csr("memory", (labels.shape[0], n_features), "the ATT&CK head's memory labels")
    elif settings.knn_weight > 0:
        raise ModelError(f"{weights_file}: tensor 'memory.labels' is missing")
    return LearntAttack(techniques, text, dense, bias, settings, memory, labels)


def technique_key(technique: str) -> tuple[int, int]:
    major, _, minor = technique[1:].partition(".")
    return int(major), int(minor or 0)
