"""Probabilities from classifier scores: softmax with a fitted temperature.

Linear SVMs (and many networks) give well-ranked but badly scaled scores.
Temperature scaling divides every score of a head by one number T, fitted on
held-out data to minimise the negative log-likelihood; it leaves the argmax
unchanged and makes "p = 0.8" mean "right about 80 % of the time". The
reliability diagrams of ``vulntax evaluate`` show how well that holds.
"""

from __future__ import annotations

import numpy as np


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature`` (float32 in, float32 out)."""
    z = scores / np.float32(temperature)
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def fit_temperature(scores: np.ndarray, targets: np.ndarray) -> float:
    """The T > 0 minimising the NLL of ``softmax(scores / T)`` for integer ``targets``."""
    from scipy.optimize import minimize_scalar

    if len(targets) == 0:
        return 1.0
    s = scores.astype(np.float64)
    rows = np.arange(len(targets))

    def nll(log_t: float) -> float:
        z = s / np.exp(log_t)
        z -= z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(log_norm - z[rows, targets]))

    result = minimize_scalar(nll, bounds=(np.log(1e-3), np.log(1e3)), method="bounded")
    return float(np.exp(result.x))


def fit_cvss_temperatures(
    logits: dict[str, np.ndarray],
    values: dict[str, list[str]],
    gold: dict[str, list[str | None]],
) -> dict[str, float]:
    """One temperature per CVSS metric: ``logits[m]`` (N, n_values) scored against the gold
    values ``gold[m]`` (None, or a value not in ``values[m]``, leaves a row out)."""
    temperatures: dict[str, float] = {}
    for metric, labels in values.items():
        index = {v: i for i, v in enumerate(labels)}
        column = gold[metric]
        pairs = [(i, index[v]) for i, v in enumerate(column) if v is not None and v in index]
        keep = [i for i, _ in pairs]
        y = np.asarray([j for _, j in pairs], dtype=np.int64)
        temperatures[metric] = fit_temperature(logits[metric][keep], y)
    return temperatures
