"""Training of the ``linear`` model kind (:mod:`vulntax.models.linear`).

Fits the tf-idf features, one LinearSVC per head (CWE over the rolled-up classes, each
CVSS base metric), keeps each head's largest weights, fits the temperatures on the
calibration split, and the ATT&CK mapper on the KEV analyst mappings. Imports
scikit-learn; prediction (:class:`~vulntax.models.linear.LinearModel`) does not.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from vulntax.errors import ModelError
from vulntax.models.attack_mapper import (
    AttackMapper,
    fit_attack_mapper,
    gold_pillars,
    one_hot_cvss,
    pillar_matrix,
)
from vulntax.models.base import FORMAT_VERSION, Labels
from vulntax.models.calibration import fit_temperature
from vulntax.models.linear import LinearConfig, LinearModel, _Head
from vulntax.models.tfidf import TfidfFeatures, sklearn_vectorizer


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
