"""Metric functions: pure, model-agnostic, on plain sequences and numpy arrays.

Every function returns ``None`` where its figure is undefined (no records to
average over), never a made-up 0. Definitions, in words, are in
``docs/evaluation.md``; the ones that need a choice are repeated here.

* **macro-F1** (:func:`macro_f1`) is sklearn's ``f1_score(average="macro")``:
  the unweighted mean of per-label F1 over every label that occurs in the gold
  *or* the predicted labels; a label predicted but never gold scores 0.
* **multi-gold records** (a CVE with two CWEs) are reduced to one target by
  :func:`resolve_targets`: the predicted label where it is one of the gold
  labels, else the first gold label (the policy's primary one).
* **sets** (CAPEC / ATT&CK): :func:`set_f1` pools true/false positives over
  records for micro-F1 and averages per-label F1 for macro-F1, as above.
* **calibration** (:func:`reliability`): equal-width confidence bins; the
  expected calibration error is ``Σ_b n_b / N · |accuracy_b − confidence_b|``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Hashable, Sequence
from typing import Any

import numpy as np

from vulntax.errors import UsageError

#: CWE training-frequency buckets: (name, lowest count, highest count)
FREQUENCY_BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("unseen", 0, 0),
    ("1-9", 1, 9),
    ("10-99", 10, 99),
    ("100-999", 100, 999),
    ("1000+", 1000, float("inf")),
)


def mean(values: Sequence[float] | np.ndarray) -> float | None:
    """The mean, or None for no values (booleans give a rate)."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()) if array.size else None


def accuracy(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> float | None:
    """Share of positions where ``pred`` equals ``gold``."""
    _same_length(pred, gold)
    return mean([p == g for p, g in zip(pred, gold, strict=True)])


def hits(pred: Sequence[Hashable], gold: Sequence[Collection[Hashable]]) -> np.ndarray:
    """Per record: is the predicted label one of the gold labels? ``(N,)`` bool."""
    _same_length(pred, gold)
    return np.fromiter((p in g for p, g in zip(pred, gold, strict=True)), bool, len(pred))


def any_hits(
    pred: Sequence[Sequence[Hashable]], gold: Sequence[Collection[Hashable]]
) -> np.ndarray:
    """Per record: is any of the predicted labels one of the gold labels? ``(N,)`` bool."""
    _same_length(pred, gold)
    return np.fromiter(
        (any(p in g for p in ps) for ps, g in zip(pred, gold, strict=True)), bool, len(pred)
    )


def resolve_targets(pred: Sequence[Hashable], gold: Sequence[Sequence[Hashable]]) -> list[Any]:
    """One target per record: the prediction if it is a gold label, else the first gold label."""
    _same_length(pred, gold)
    if any(not g for g in gold):
        raise UsageError("resolve_targets: every record needs at least one gold label")
    return [p if p in g else g[0] for p, g in zip(pred, gold, strict=True)]


def macro_f1(
    pred: Sequence[Hashable] | np.ndarray, gold: Sequence[Hashable] | np.ndarray
) -> float | None:
    """Macro-averaged F1 over the labels in ``gold`` ∪ ``pred`` (sklearn's definition).

    Labels may be any hashable values, or non-negative integer codes given as
    numpy integer arrays (the fast path for large inputs).
    """
    _same_length(pred, gold)
    if not len(gold):
        return None
    g, p = encode(gold, pred)
    k = int(max(g.max(), p.max())) + 1
    tp = np.bincount(g[g == p], minlength=k)
    support = np.bincount(g, minlength=k) + np.bincount(p, minlength=k)  # 2TP + FP + FN
    present = support > 0
    return float(np.mean(2 * tp[present] / support[present]))


def encode(*columns: Sequence[Hashable] | np.ndarray) -> list[np.ndarray]:
    """Integer codes of label columns, one code per distinct label across all of them.

    Integer numpy arrays are taken as codes already.
    """
    if all(isinstance(c, np.ndarray) and c.dtype.kind in "iu" for c in columns):
        return [np.asarray(c, dtype=np.int64) for c in columns]
    index: dict[Hashable, int] = {}
    return [
        np.fromiter((index.setdefault(x, len(index)) for x in c), np.int64, len(c)) for c in columns
    ]


def confusion(
    pred: Sequence[Hashable], gold: Sequence[Hashable], values: Sequence[Hashable]
) -> list[list[int]]:
    """Counts ``[gold value][predicted value]`` in the order of ``values``; others are ignored."""
    _same_length(pred, gold)
    index = {v: i for i, v in enumerate(values)}
    matrix = np.zeros((len(values), len(values)), dtype=np.int64)
    for p, g in zip(pred, gold, strict=True):
        if p in index and g in index:
            matrix[index[g], index[p]] += 1
    return matrix.tolist()


def mean_absolute_error(pred: Sequence[float], gold: Sequence[float]) -> float | None:
    _same_length(pred, gold)
    return mean(np.abs(np.asarray(pred, dtype=np.float64) - np.asarray(gold, dtype=np.float64)))


def recall_at_k(
    pred: Sequence[Sequence[Hashable]], gold: Sequence[Collection[Hashable]], k: int
) -> float | None:
    """Mean over records with gold labels of ``|top-k ∩ gold| / |gold|``."""
    _same_length(pred, gold)
    scores = [len(set(p[:k]) & set(g)) / len(g) for p, g in zip(pred, gold, strict=True) if g]
    return mean(scores)


def hit_at_k(
    pred: Sequence[Sequence[Hashable]], gold: Sequence[Collection[Hashable]], k: int
) -> float | None:
    """Share of records with gold labels where one of the top ``k`` is gold."""
    _same_length(pred, gold)
    return mean([bool(set(p[:k]) & set(g)) for p, g in zip(pred, gold, strict=True) if g])


def set_f1(
    pred: Sequence[Collection[Hashable]], gold: Sequence[Collection[Hashable]]
) -> dict[str, float | None]:
    """Micro- and macro-F1, precision and recall of predicted label sets against gold sets.

    Micro pools true positives, false positives and false negatives over all
    records; macro averages per-label F1 over the labels in gold ∪ predicted.
    Records count whatever their sets (an empty prediction adds false negatives).
    """
    _same_length(pred, gold)
    tp: Counter[Hashable] = Counter()
    fp: Counter[Hashable] = Counter()
    fn: Counter[Hashable] = Counter()
    for p, g in zip(pred, gold, strict=True):
        ps, gs = set(p), set(g)
        tp.update(ps & gs)
        fp.update(ps - gs)
        fn.update(gs - ps)
    n_tp, n_fp, n_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    labels = set(tp) | set(fp) | set(fn)
    if not labels:
        return {"micro_f1": None, "macro_f1": None, "precision": None, "recall": None}
    per_label = [2 * tp[x] / (2 * tp[x] + fp[x] + fn[x]) for x in labels]
    return {
        "micro_f1": 2 * n_tp / (2 * n_tp + n_fp + n_fn),
        "macro_f1": float(np.mean(per_label)),
        "precision": n_tp / (n_tp + n_fp) if n_tp + n_fp else None,
        "recall": n_tp / (n_tp + n_fn) if n_tp + n_fn else None,
    }


def reliability(
    confidence: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray, bins: int = 10
) -> dict[str, Any]:
    """Reliability diagram data and expected calibration error (equal-width bins on [0, 1]).

    Returns ``{"ece": float | None, "records": N, "bins": [{"lo", "hi", "records",
    "confidence", "accuracy"}, ...]}``; empty bins have None for their means.
    """
    conf = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    ok = np.asarray(correct, dtype=bool)
    if conf.shape != ok.shape:
        raise UsageError(f"reliability: {conf.size} confidences but {ok.size} outcomes")
    which = np.minimum((conf * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins)
    conf_sum = np.bincount(which, weights=conf, minlength=bins)
    ok_sum = np.bincount(which, weights=ok.astype(np.float64), minlength=bins)
    table = []
    gap = 0.0
    for b in range(bins):
        n = int(count[b])
        c = conf_sum[b] / n if n else None
        a = ok_sum[b] / n if n else None
        if n:
            gap += n * abs(float(a) - float(c))  # type: ignore[arg-type]
        table.append(
            {"lo": b / bins, "hi": (b + 1) / bins, "records": n, "confidence": c, "accuracy": a}
        )
    total = int(count.sum())
    return {"ece": gap / total if total else None, "records": total, "bins": table}


def frequency_bucket(count: int) -> str:
    """The name of the training-frequency bucket of a label seen ``count`` times."""
    for name, low, high in FREQUENCY_BUCKETS:
        if low <= count <= high:
            return name
    raise UsageError(f"frequency_bucket: negative count {count}")


def _same_length(a: Sequence[Any] | np.ndarray, b: Sequence[Any] | np.ndarray) -> None:
    if len(a) != len(b):
        raise UsageError(f"{len(a)} predictions but {len(b)} gold labels")
