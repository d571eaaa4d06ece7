"""Distillation into the linear model: its heads fitted on a teacher's labels mixed with gold.

Any saved vulntax model can teach (e.g. the fine-tuned ``multitask`` one): it labels every
training description once (:mod:`vulntax.models.teacher`: batched, cached in a safetensors file
keyed by the teacher's files and the texts, so reruns are cheap), and the linear heads are then
fitted as in :mod:`vulntax.models.linear_fit` (same tf-idf features, C values, pruning,
temperatures, ATT&CK mapper) on a mixed training set (:func:`mixed_targets`), one of two kinds:

* ``soft`` — every description once with its gold label, weight ``1 - alpha``, and once per
  teacher top-k label (mapped onto the student's CWE classes) with weight ``alpha * p``;
  LinearSVC's sample weights make these soft targets;
* ``fill`` — gold labels stay (weight 1); where gold is missing (CWE outside the recency window,
  CVSS without an NVD vector) the teacher's top label is added with weight ``alpha`` if its
  probability reaches ``confidence``.

``alpha = 0`` is the plain linear fit, row for row. The teacher's CVSS values must be the same
as the student's and most of its CWE labels must map onto the student's classes (itself, its
roll-up class or its nearest ancestor among them); otherwise a :class:`ModelError` says why.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vulntax.errors import ConfigError, ModelError, UnknownIdError
from vulntax.models.linear import LinearConfig, LinearModel
from vulntax.models.teacher import TOP_K, TeacherLabels
from vulntax.taxonomy.cvss import BASE_METRICS, metric_values


@dataclass(frozen=True)
class Mix:
    """How the teacher's labels join the gold ones (see the module docstring)."""

    kind: Literal["soft", "fill"] = "soft"
    alpha: float = 0.5
    top_k: int = 3  # soft: teacher labels per description
    min_p: float = 0.05  # soft: teacher labels below this probability are left out
    confidence: float = 0.5  # fill: the teacher's top label is used from this probability
    heads: tuple[str, ...] = ("cwe", "cvss")  # the heads that learn from the teacher
    newest: int | None = None  # teacher labels for the newest N training rows only (cost)

    def __post_init__(self) -> None:
        if self.kind not in ("soft", "fill"):
            raise ConfigError(f"distill: unknown mix kind {self.kind!r} (soft, fill)")
        if not 0 <= self.alpha <= 1:
            raise ConfigError("distill: alpha must be in [0, 1]")
        if not 1 <= self.top_k <= TOP_K:
            raise ConfigError(f"distill: top_k must be in [1, {TOP_K}]")
        if not set(self.heads) <= {"cwe", "cvss"}:
            raise ConfigError("distill: heads must be among 'cwe', 'cvss'")
        if self.newest is not None and self.newest < 1:
            raise ConfigError("distill: newest must be at least 1")

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.alpha:g}"


def cwe_mapping(
    teacher_cwe: Sequence[str], student: Sequence[str], classes: dict[str, str | None], cwe: Any
) -> np.ndarray:
    """For each teacher CWE label, the index of its student class (-1: none).

    A label maps to itself, its roll-up class, or its nearest View-1000 ancestor that is a
    student class. Raises ModelError when fewer than half of the teacher's labels map.
    """
    index = {c: i for i, c in enumerate(student)}
    out = np.full(len(teacher_cwe), -1, dtype=np.int64)
    for j, label in enumerate(teacher_cwe):
        try:
            ancestors = tuple(reversed(cwe.path(label)[:-1]))
        except UnknownIdError:  # not in this catalog
            ancestors = ()
        for candidate in (label, classes.get(label), *ancestors):
            if candidate is not None and candidate in index:
                out[j] = index[candidate]
                break
    mapped = int((out >= 0).sum())
    if teacher_cwe and mapped * 2 < len(teacher_cwe):
        missing = [c for c, o in zip(teacher_cwe, out, strict=True) if o < 0][:5]
        raise ModelError(
            f"the teacher's CWE labels do not fit the student's: only {mapped} of "
            f"{len(teacher_cwe)} map onto its {len(student)} classes (e.g. not {missing}); "
            "was the teacher trained on another catalog or label set?"
        )
    return out


def check_cvss(teacher: TeacherLabels) -> dict[str, np.ndarray]:
    """Per metric, the teacher's probabilities in the order of ``metric_values``."""
    out: dict[str, np.ndarray] = {}
    for metric in BASE_METRICS:
        if metric not in teacher.cvss:
            raise ModelError(f"the teacher predicts no CVSS {metric}; it cannot teach CVSS")
        values, probs = teacher.cvss[metric]
        expected = list(metric_values(metric))
        if sorted(values) != sorted(expected):
            raise ModelError(
                f"the teacher's CVSS {metric} values are {values}, the student's {expected}"
            )
        out[metric] = probs[:, [values.index(v) for v in expected]]
    return out


# ---------------------------------------------------------------------- mixing
@dataclass
class Targets:
    """One head's training rows: feature row, label index, sample weight."""

    rows: np.ndarray
    y: np.ndarray
    weight: np.ndarray | None  # None: every weight is 1 (the plain fit)


def mixed_targets(
    gold_rows: Sequence[int],
    gold_y: Sequence[int],
    teacher_index: np.ndarray,
    teacher_p: np.ndarray,
    mix: Mix,
    teach: bool = True,
) -> Targets:
    """Gold rows first (as the plain fit has them), then the teacher's rows.

    ``teacher_index`` / ``teacher_p``: (N, K) label indices (-1: none) and probabilities,
    most probable first, for every training row.
    """
    rows, y = np.asarray(gold_rows, dtype=np.int64), np.asarray(gold_y, dtype=np.int64)
    if not teach or mix.alpha == 0:
        return Targets(rows, y, None)
    if mix.newest is not None:  # training rows are in date order: older ones are not taught
        teacher_index = teacher_index.copy()
        teacher_index[: max(0, len(teacher_index) - mix.newest)] = -1
    if mix.kind == "soft":
        k = mix.top_k
        idx, p = teacher_index[:, :k], teacher_p[:, :k]
        keep = (idx >= 0) & (p >= mix.min_p)
        t_rows, t_col = np.nonzero(keep)
        t_y, t_w = idx[t_rows, t_col], mix.alpha * p[t_rows, t_col]
        gold_w = np.full(len(rows), 1 - mix.alpha)
    else:
        has_gold = np.zeros(len(teacher_index), dtype=bool)
        has_gold[rows] = True
        keep = ~has_gold & (teacher_index[:, 0] >= 0) & (teacher_p[:, 0] >= mix.confidence)
        t_rows = np.flatnonzero(keep)
        t_y, t_w = teacher_index[t_rows, 0], np.full(len(t_rows), mix.alpha)
        gold_w = np.ones(len(rows))
    all_rows = np.concatenate([rows, t_rows])
    all_y = np.concatenate([y, t_y]).astype(np.int64)
    weight = np.concatenate([gold_w, t_w]).astype(np.float64)
    nonzero = weight > 0
    return Targets(all_rows[nonzero], all_y[nonzero], weight[nonzero])


def _mapped_cwe(teacher: TeacherLabels, mapping: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The teacher's top CWE labels as student classes: labels mapping to one class add up,
    unmapped ones drop out; most probable first."""
    n = len(teacher)
    index = np.where(teacher.cwe_p > 0, mapping[teacher.cwe_index], -1)
    out_i = np.full((n, TOP_K), -1, dtype=np.int64)
    out_p = np.zeros((n, TOP_K), dtype=np.float32)
    for r in range(n):
        merged: dict[int, float] = {}
        for c, p in zip(index[r].tolist(), teacher.cwe_p[r].tolist(), strict=True):
            if c >= 0:
                merged[c] = merged.get(c, 0.0) + p
        ranked = sorted(merged.items(), key=lambda kv: -kv[1])
        for j, (c, p) in enumerate(ranked):
            out_i[r, j], out_p[r, j] = c, p
    return out_i, out_p


# ---------------------------------------------------------------------- fitting
@dataclass
class Prepared:
    """What every variant shares: tf-idf features, gold and teacher targets."""

    x_train: Any
    x_cal: Any
    features: Any
    classes: dict[str, str | None]  # CWE label -> its rolled-up class
    cwe_labels: list[str]
    cwe_gold: tuple[list[int], list[int]]
    cwe_teacher: tuple[np.ndarray, np.ndarray]
    cvss_gold: dict[str, tuple[list[int], list[int]]]
    cvss_teacher: dict[str, tuple[np.ndarray, np.ndarray]]


def prepare(
    params: LinearConfig,
    train: Any,
    calibration: Any,
    classes: dict[str, str | None],
    catalog: Any,
    teacher: TeacherLabels,
    log: Any = print,
) -> Prepared:
    """Features as linear_fit makes them; gold targets; the teacher's, in the student's labels."""
    from vulntax.models.linear_fit import _cwe_number, _first_class
    from vulntax.models.tfidf import TfidfFeatures, sklearn_vectorizer

    if params.augment_halves or params.augment_misspell:
        raise ConfigError("distillation does not combine with augment_halves/augment_misspell")
    if len(teacher) != len(train):
        raise ModelError(f"teacher labels for {len(teacher)} texts, {len(train)} examples")
    started = time.perf_counter()
    vectorizer = sklearn_vectorizer(params.max_features, params.min_df)
    x_train = vectorizer.fit_transform(train.texts)
    features = TfidfFeatures.from_sklearn(vectorizer)
    x_cal = features.transform(calibration.texts)
    labelled = [(i, _first_class(g, classes)) for i, g in enumerate(train.cwe_gold)]
    pairs = [(i, c) for i, c in labelled if c is not None]
    cwe_labels = sorted({c for _, c in pairs}, key=_cwe_number)
    index = {c: i for i, c in enumerate(cwe_labels)}
    cwe_gold = ([i for i, _ in pairs], [index[c] for _, c in pairs])
    mapping = cwe_mapping(teacher.cwe_labels, cwe_labels, classes, catalog.cwe)
    cwe_teacher = _mapped_cwe(teacher, mapping)
    cvss_gold, cvss_teacher = {}, {}
    for metric, probs in check_cvss(teacher).items():
        vindex = {v: i for i, v in enumerate(metric_values(metric))}
        column = train.cvss[metric]
        rows = [i for i, v in enumerate(column) if v is not None]
        cvss_gold[metric] = (rows, [vindex[column[i]] for i in rows])
        order = np.argsort(-probs, axis=1, kind="stable")
        cvss_teacher[metric] = (order, np.take_along_axis(probs, order, axis=1))
    log(f"features and targets: {x_train.shape[1]:,} terms ({time.perf_counter() - started:.0f} s)")
    return Prepared(
        x_train, x_cal, features, classes, cwe_labels, cwe_gold, cwe_teacher, cvss_gold,
        cvss_teacher,
    )  # fmt: skip


def _svm(x: Any, t: Targets, c: float) -> Any:
    from sklearn.svm import LinearSVC

    return LinearSVC(C=c).fit(x[t.rows], t.y, sample_weight=t.weight)


def fit_distilled(
    meta: dict[str, Any],
    params: LinearConfig,
    prepared: Prepared,
    mix: Mix,
    train: Any,
    calibration: Any,
    catalog: Any,
    log: Any = print,
    temperatures: dict[str, float] | None = None,
) -> LinearModel:
    """A linear model fitted on the mixed targets; otherwise as linear_fit.train makes it."""
    from vulntax.models.attack_mapper import pillar_matrix
    from vulntax.models.base import FORMAT_VERSION, Labels
    from vulntax.models.calibration import fit_temperature
    from vulntax.models.linear_fit import (
        _calibration_targets,
        _fit_mapper,
        _head_from_svm,
        _links,
    )

    started = time.perf_counter()
    p, x = prepared, prepared.x_train
    index = {c: i for i, c in enumerate(p.cwe_labels)}
    t = mixed_targets(*p.cwe_gold, *p.cwe_teacher, mix, teach="cwe" in mix.heads)
    cwe_head = _head_from_svm(_svm(x, t, params.C_cwe), len(p.cwe_labels), params.keep_weights)
    if temperatures:
        cwe_head.temperature = temperatures["cwe"]
    else:
        rows, y = _calibration_targets(calibration.cwe_gold, p.classes, index)
        cwe_head.temperature = fit_temperature(cwe_head.scores(p.x_cal[rows]), y)
    log(f"{mix.name} CWE: {len(t.rows):,} rows ({time.perf_counter() - started:.0f} s)")
    cvss_labels, cvss_heads = {}, {}
    for metric in BASE_METRICS:
        values = list(metric_values(metric))
        t = mixed_targets(*p.cvss_gold[metric], *p.cvss_teacher[metric], mix, "cvss" in mix.heads)
        if len(set(t.y.tolist())) < 2:
            raise ModelError(f"CVSS {metric}: the training data has only one value; cannot train")
        head = _head_from_svm(_svm(x, t, params.C_cvss), len(values), params.keep_weights)
        if temperatures:
            head.temperature = temperatures[metric]
        else:
            vindex = {v: i for i, v in enumerate(values)}
            column = calibration.cvss[metric]
            cal_rows = [i for i, v in enumerate(column) if v is not None]
            cal_y = np.array([vindex[column[i]] for i in cal_rows])
            head.temperature = fit_temperature(head.scores(p.x_cal[cal_rows]), cal_y)
        cvss_labels[metric], cvss_heads[metric] = values, head
    log(f"{mix.name} CVSS: 8 metrics ({time.perf_counter() - started:.0f} s)")
    capec_labels, capec_links = _links(p.cwe_labels, catalog.graph.cwe_to_capec)
    graph_labels, attack_links = _links(p.cwe_labels, catalog.graph.cwe_to_attack)
    mapper = _fit_mapper(
        train, x, cwe_head, cvss_heads, cvss_labels, p.cwe_labels, graph_labels, attack_links,
        catalog,
    )  # fmt: skip
    labels = Labels(
        cwe=p.cwe_labels,
        cvss=cvss_labels,
        capec=capec_labels,
        attack=graph_labels if mapper is None else mapper.techniques,
    )
    config = {
        "kind": LinearModel.kind,
        "format_version": FORMAT_VERSION,
        **meta,
        "attack_graph": graph_labels,
        "attack_mapper": {"pillars": mapper.pillars} if mapper else None,
    }
    pillar = pillar_matrix(p.cwe_labels, mapper.pillars, catalog) if mapper else None
    return LinearModel(
        config, labels, p.features, cwe_head, cvss_heads, capec_links, attack_links, mapper, pillar
    )


def distill_meta(mix: Mix, teacher_dir: str | Path, teacher: TeacherLabels) -> dict[str, Any]:
    """What config.json records of the distillation."""
    return {
        "teacher": {"path": str(teacher_dir), "sha256": teacher.teacher},
        "mix": {
            "kind": mix.kind,
            "alpha": mix.alpha,
            "top_k": mix.top_k,
            "min_p": mix.min_p,
            "confidence": mix.confidence,
            "heads": list(mix.heads),
            "newest": mix.newest,
        },
    }
