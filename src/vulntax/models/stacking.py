"""Small dense pieces the heads stacked on a model's outputs share (CVSS v4.0, metadata)."""

from __future__ import annotations

from typing import Any

import numpy as np


def fit_linear(x: Any, y: np.ndarray, k: int, c: float) -> tuple[np.ndarray, np.ndarray]:
    """A multinomial logistic regression as (d, k) weights and (k,) biases over all k values."""
    from sklearn.linear_model import LogisticRegression

    w = np.zeros((x.shape[1], k), np.float32)
    b = np.full(k, -30.0, np.float32)  # a value never seen: p ≈ 0
    present = np.unique(y)
    if len(present) == 1:
        b[present[0]] = 0.0
        return w, b
    model = LogisticRegression(C=c, max_iter=1000)
    model.fit(x, y)
    coef, intercept = model.coef_, model.intercept_
    if len(present) == 2:  # sklearn's binary form: one row, for the second class
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    for row, cls in enumerate(model.classes_):
        w[:, cls] = coef[row]
        b[cls] = intercept[row]
    return w, b
