"""Per-record scores of one set of predictions, and figures aggregated over any subset.

Each head is scored once per record (:class:`CweScores`, :class:`CvssScores`,
:class:`LinkScores`); ``figures(mask)`` then aggregates over the records a
boolean mask selects (all of them, one label source, one frequency bucket), so
breakdowns cost no second pass. A record counts for a head only if it has a
gold label for it and the model classified it (``ok``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vulntax.dataset.store import CVSS_COLUMNS
from vulntax.evaluate import metrics as M
from vulntax.evaluate.columns import Links, PredictionColumns, objects

TOP_K = 5  # CWE top-k accuracy, CAPEC / ATT&CK recall@k
LINK_THRESHOLD = 0.5  # a listed CAPEC / ATT&CK entry with p >= this is in the predicted set


class CweScores:
    """Strict, top-k and hierarchy-aware hits, path validity, abstention, per record."""

    def __init__(
        self,
        pred: PredictionColumns,
        gold: Sequence[Sequence[str]],
        catalog: Any,
        train_counts: dict[str, int] | None = None,
    ) -> None:
        n = len(pred)
        self.ok = pred.array("ok")
        self.labelled = self.ok & np.fromiter((bool(g) for g in gold), bool, n)
        self.pred = pred.array("cwe")
        self.confidence = pred.array("cwe_confidence")
        self.abstain = pred.array("cwe_abstain")
        self.top1 = np.zeros(n, dtype=bool)
        self.topk = np.zeros(n, dtype=bool)
        self.related = np.zeros(n, dtype=bool)
        self.target = np.empty(n, dtype=object)
        self.bucket = np.empty(n, dtype=object)
        related = _Related(catalog.cwe)
        for i in np.flatnonzero(self.labelled).tolist():
            p, g = pred.cwe[i], gold[i]
            assert p is not None  # a classified record
            self.top1[i] = p in g
            self.topk[i] = self.top1[i] or any(t in g for t in pred.cwe_top[i][:TOP_K])
            self.related[i] = self.top1[i] or any(related(p, x) for x in g)
            self.target[i] = p if self.top1[i] else g[0]
            if train_counts is not None:
                self.bucket[i] = M.frequency_bucket(max(train_counts.get(x, 0) for x in g))
        self.codes = M.encode(self.pred, self.target)  # (pred, target) as integer codes
        valid = _ValidPath(catalog.cwe)
        self.path_ok = np.fromiter(
            (
                o and valid(path, c)
                for o, path, c in zip(self.ok, pred.cwe_path, pred.cwe, strict=True)
            ),
            bool,
            n,
        )

    def figures(self, mask: np.ndarray | None = None) -> dict[str, Any]:
        mask = _all(mask, self.ok)
        m = self.labelled & mask
        return {
            "records": int(m.sum()),
            "top1": M.mean(self.top1[m]),
            f"top{TOP_K}": M.mean(self.topk[m]),
            "hierarchy": M.mean(self.related[m]),
            "macro_f1": M.macro_f1(self.codes[0][m], self.codes[1][m]),
            "path_violation_rate": M.mean(~self.path_ok[self.ok & mask]),
            "abstain_rate": M.mean(self.abstain[m]),
            "answered_accuracy": M.mean(self.top1[m & ~self.abstain]),
        }

    def by_frequency(self, mask: np.ndarray | None = None) -> dict[str, dict[str, Any]]:
        m = self.labelled & _all(mask, self.ok)
        out = {}
        for name, _, _ in M.FREQUENCY_BUCKETS:
            b = m & (self.bucket == name)
            out[name] = {
                "records": int(b.sum()),
                "top1": M.mean(self.top1[b]),
                "hierarchy": M.mean(self.related[b]),
            }
        return out

    def calibration(self, mask: np.ndarray | None = None) -> dict[str, Any]:
        m = self.labelled & _all(mask, self.ok)
        return M.reliability(self.confidence[m], self.top1[m])


class CvssScores:
    """Per-metric hits, exact vector, score error and severity, per record."""

    def __init__(
        self,
        pred: PredictionColumns,
        gold_vectors: Sequence[str | None],
        gold_metrics: Mapping[str, Sequence[str | None]],
    ) -> None:
        from vulntax.taxonomy.cvss import score

        n = len(pred)
        self.ok = pred.array("ok")
        self.labelled = self.ok & np.fromiter((v is not None for v in gold_vectors), bool, n)
        self.pred = {m: objects(pred.cvss[m]) for m in CVSS_COLUMNS}
        self.gold = {m: objects(gold_metrics[m]) for m in CVSS_COLUMNS}
        self.p = {m: np.asarray(pred.cvss_p[m], dtype=np.float64) for m in CVSS_COLUMNS}
        self.correct = {
            m: self.labelled & (self.pred[m] == self.gold[m]).astype(bool) for m in CVSS_COLUMNS
        }
        self.codes = {c: M.encode(self.pred[c], self.gold[c]) for c in CVSS_COLUMNS}
        self.exact = self.labelled & np.logical_and.reduce([self.correct[m] for m in CVSS_COLUMNS])
        scored: dict[str, Any] = {}
        gold_score = np.full(n, np.nan)
        gold_severity = np.empty(n, dtype=object)
        for i in np.flatnonzero(self.labelled).tolist():
            vector = gold_vectors[i]
            assert vector is not None
            if vector not in scored:
                scored[vector] = score(vector)
            gold_score[i] = scored[vector].base_score
            gold_severity[i] = scored[vector].severity
        self.abs_error = np.abs(pred.array("base_score") - gold_score)
        self.severity_ok = self.labelled & (pred.array("severity") == gold_severity).astype(bool)

    def figures(self, mask: np.ndarray | None = None) -> dict[str, Any]:
        m = self.labelled & _all(mask, self.ok)
        per_metric = {c: M.mean(self.correct[c][m]) for c in CVSS_COLUMNS}
        known = [v for v in per_metric.values() if v is not None]
        return {
            "records": int(m.sum()),
            "accuracy": per_metric,
            "macro_f1": {
                c: M.macro_f1(self.codes[c][0][m], self.codes[c][1][m]) for c in CVSS_COLUMNS
            },
            "mean_accuracy": float(np.mean(known)) if known else None,
            "exact_vector": M.mean(self.exact[m]),
            "base_score_mae": M.mean(self.abs_error[m]),
            "severity_accuracy": M.mean(self.severity_ok[m]),
        }

    def confusion(self, mask: np.ndarray | None = None) -> dict[str, Any]:
        from vulntax.taxonomy.cvss import metric_values

        m = self.labelled & _all(mask, self.ok)
        out = {}
        for c in CVSS_COLUMNS:
            values = list(metric_values(c))
            out[c] = {
                "values": values,
                "matrix": M.confusion(list(self.pred[c][m]), list(self.gold[c][m]), values),
            }
        return out

    def calibration(self, mask: np.ndarray | None = None) -> dict[str, Any]:
        """Reliability of each metric's predicted-value probability, and all metrics pooled."""
        m = self.labelled & _all(mask, self.ok)
        out = {c: M.reliability(self.p[c][m], self.correct[c][m]) for c in CVSS_COLUMNS}
        out["all"] = M.reliability(
            np.concatenate([self.p[c][m] for c in CVSS_COLUMNS]),
            np.concatenate([self.correct[c][m] for c in CVSS_COLUMNS]),
        )
        return out


class LinkScores:
    """CAPEC or ATT&CK: ranked lists against gold sets, per record."""

    def __init__(
        self, ok: Sequence[bool], pred: Sequence[Links], gold: Sequence[Sequence[str]]
    ) -> None:
        self.ok = np.asarray(ok, dtype=bool)
        self.labelled = self.ok & np.fromiter((bool(g) for g in gold), bool, len(gold))
        # only labelled records are ever scored: keep theirs
        rows: list[int] = np.flatnonzero(self.labelled).tolist()
        self.ranked = {i: [x for x, _ in pred[i]] for i in rows}
        self.chosen = {i: [x for x, p in pred[i] if p >= LINK_THRESHOLD] for i in self.ranked}
        self.gold = {i: list(gold[i]) for i in self.ranked}

    def figures(self, mask: np.ndarray | None = None) -> dict[str, Any]:
        rows = [int(i) for i in np.flatnonzero(self.labelled & _all(mask, self.ok))]
        ranked = [self.ranked[i] for i in rows]
        chosen = [self.chosen[i] for i in rows]
        gold = [self.gold[i] for i in rows]
        return {
            "records": len(rows),
            f"recall@{TOP_K}": M.recall_at_k(ranked, gold, TOP_K),
            f"hit@{TOP_K}": M.hit_at_k(ranked, gold, TOP_K),
            **M.set_f1(chosen, gold),
            "predicted_per_record": M.mean([len(c) for c in chosen]),
            "gold_per_record": M.mean([len(g) for g in gold]),
        }


def parent_technique(technique: str) -> str:
    """``T1059.004`` → ``T1059``; a technique is its own parent."""
    return technique.split(".", 1)[0]


def technique_level(links: Links) -> Links:
    """ATT&CK entries with sub-techniques replaced by their parent (its highest p), by p."""
    best: dict[str, float] = {}
    for technique, p in links:
        parent = parent_technique(technique)
        best[parent] = max(best.get(parent, 0.0), p)
    return sorted(best.items(), key=lambda pair: -pair[1])


def _all(mask: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    return np.ones_like(like, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)


class _Related:
    """``catalog.cwe.is_related`` with a cache (the same pairs recur thousands of times)."""

    def __init__(self, cwe: Any) -> None:
        self._cwe = cwe
        self._cache: dict[tuple[str, str], bool] = {}

    def __call__(self, a: str, b: str) -> bool:
        key = (a, b)
        if key not in self._cache:
            self._cache[key] = bool(self._cwe.is_related(a, b))
        return self._cache[key]


class _ValidPath:
    """A returned path is valid if it is a real View-1000 path ending in the returned id."""

    def __init__(self, cwe: Any) -> None:
        self._cwe = cwe
        self._cache: dict[tuple[str, ...], bool] = {}

    def __call__(self, path: tuple[str, ...], cwe_id: str | None) -> bool:
        if not path or path[-1] != cwe_id:
            return False
        if path not in self._cache:
            self._cache[path] = bool(self._cwe.is_path(path))
        return self._cache[path]
