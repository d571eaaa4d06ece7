"""ATT&CK techniques the way analysts map them, learnt from their own mappings.

The CTID analysts map a CVE to the technique used to *exploit* it and the
techniques its *impact* enables (T1190 Exploit Public-Facing Application,
T1203 Exploitation for Client Execution, T1068 Exploitation for Privilege
Escalation, T1499.004 Endpoint DoS, …). The catalog graph CWE → CAPEC → ATT&CK
describes something else (attack patterns against a weakness): measured on the
CTID gold set, it recovers about 2 % of the analysts' techniques, and CTID's
own CWE-type table about 7 % even given the true CWE. What does predict them is
how and with what effect a flaw is exploited — exactly what the CVSS metrics
describe — so the mapper is a cross-taxonomy head:

* **features** (per CVE): the eight CVSS metric distributions (22 values),
  the CWE distribution summed per View-1000 pillar (the 10 roots), and, per
  technique, its probability through the catalog graph;
* **model**: one L2-regularised logistic regression per technique with at
  least ``min_positives`` positive examples in the training mappings;
* **training data**: the KEV analyst mappings (CTID Mappings Explorer), never
  the CTID evaluation set; gold CVSS vectors and CWE labels are used as
  features where a training record has them (teacher forcing), the model's
  own predictions where it does not.

At prediction time the features come from the model's predicted
distributions. Weights live in the model's safetensors file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vulntax.models.base import Labels

CVSS_ORDER = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")


@dataclass
class AttackMapper:
    techniques: list[str]  # output order
    pillars: list[str]  # View-1000 roots, feature order
    weights: np.ndarray  # (n_techniques, n_shared + 1) float32: shared features, then graph p
    bias: np.ndarray  # (n_techniques,) float32

    def probabilities(
        self,
        cvss: dict[str, np.ndarray],
        cwe: np.ndarray,
        cwe_pillar: np.ndarray,
        graph: np.ndarray,
    ) -> np.ndarray:
        """(B, n_techniques) probabilities.

        ``cwe`` is (B, n_cwe); ``cwe_pillar`` (n_cwe, n_pillars) sums classes per pillar;
        ``graph`` (B, n_techniques) is each technique's probability through the catalog.
        """
        shared = np.hstack([*(cvss[m] for m in CVSS_ORDER), cwe @ cwe_pillar]).astype(np.float32)
        n_shared = shared.shape[1]
        z = shared @ self.weights[:, :n_shared].T + graph * self.weights[:, n_shared] + self.bias
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def pillar_matrix(cwe_labels: Sequence[str], pillars: Sequence[str], catalog: Any) -> np.ndarray:
    """(n_cwe, n_pillars) 0/1: which pillar each CWE class sits under (display path root)."""
    index = {p: j for j, p in enumerate(pillars)}
    out = np.zeros((len(cwe_labels), len(pillars)), dtype=np.float32)
    for i, cwe in enumerate(cwe_labels):
        path = catalog.cwe.path(cwe)
        if path and path[0] in index:
            out[i, index[path[0]]] = 1.0
    return out


def fit_attack_mapper(
    gold: Sequence[Sequence[str]],
    cvss: dict[str, np.ndarray],
    cwe_pillars: np.ndarray,
    graph_probs: dict[str, np.ndarray],
    pillars: list[str],
    min_positives: int = 3,
    C: float = 1.0,
) -> AttackMapper | None:
    """Fit on the records with analyst mappings; None if there are too few to learn from.

    ``cvss``: metric -> (N, n_values) feature rows; ``cwe_pillars``: (N, n_pillars);
    ``graph_probs``: technique -> (N,) probability through the catalog graph.
    """
    from sklearn.linear_model import LogisticRegression

    counts = Counter(t for ids in gold for t in set(ids))
    techniques = sorted((t for t, n in counts.items() if n >= min_positives), key=_technique_key)
    if not techniques or len(gold) < 2 * min_positives:
        return None
    shared = np.hstack([*(cvss[m] for m in CVSS_ORDER), cwe_pillars]).astype(np.float32)
    weights = np.zeros((len(techniques), shared.shape[1] + 1), dtype=np.float32)
    bias = np.zeros(len(techniques), dtype=np.float32)
    for j, technique in enumerate(techniques):
        y = np.array([technique in ids for ids in gold])
        graph = graph_probs.get(technique, np.zeros(len(gold), dtype=np.float32))
        x = np.hstack([shared, graph[:, None]])
        if y.all():  # every record has it: a constant
            bias[j] = 6.0
            continue
        clf = LogisticRegression(C=C, max_iter=2000).fit(x, y)
        weights[j] = clf.coef_[0]
        bias[j] = clf.intercept_[0]
    return AttackMapper(techniques, list(pillars), weights, bias)


def one_hot_cvss(
    metrics: Sequence[str | None], values: Sequence[str], predicted: np.ndarray
) -> np.ndarray:
    """Gold metric values as one-hot rows where known, the predicted distribution elsewhere."""
    out = predicted.astype(np.float32).copy()
    index = {v: i for i, v in enumerate(values)}
    for row, value in enumerate(metrics):
        if value is not None and value in index:
            out[row] = 0.0
            out[row, index[value]] = 1.0
    return out


def gold_pillars(
    gold: Sequence[Sequence[str]], predicted: np.ndarray, pillars: Sequence[str], catalog: Any
) -> np.ndarray:
    """Pillar indicator rows from the gold CWE labels where known, predicted sums elsewhere."""
    index = {p: j for j, p in enumerate(pillars)}
    out = predicted.astype(np.float32).copy()
    for row, labels in enumerate(gold):
        roots = {catalog.cwe.path(c)[0] for c in labels if c in catalog.cwe and catalog.cwe.path(c)}
        roots &= set(index)
        if roots:
            out[row] = 0.0
            for root in roots:
                out[row, index[root]] = 1.0 / len(roots)
    return out


def labels_with_attack(labels: Labels, techniques: list[str]) -> Labels:
    return Labels(cwe=labels.cwe, cvss=labels.cvss, capec=labels.capec, attack=list(techniques))


def _technique_key(technique: str) -> tuple[int, int]:
    major, _, minor = technique[1:].partition(".")
    return int(major), int(minor or 0)
