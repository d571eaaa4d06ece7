"""The CVSS v4.0 head: eleven small classifiers stacked on a model's own outputs.

There are few v4.0 labels (≈ 2,300 CNA vectors in the shared data), far too
few to learn text features from scratch, so the head reads what the model
already predicts: the v3.1 metric distributions (22 numbers) and the CWE
distribution. Each v4.0 base metric is a multinomial logistic regression on
that vector::

    x = [p(AV) | p(AC) | ... | p(A) | p(CWE)]      # (B, 22 + n_cwe)
    p(metric) = softmax(x @ W[metric] + b[metric])  # (B, n_values)

It is saved beside the model as two files of fixed names (:data:`WEIGHTS`,
:data:`CONFIG`); a model directory without them predicts no ``cvss4``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import ModelError
from vulntax.models.calibration import softmax
from vulntax.models.persistence import (
    optional_files,
    read_json,
    read_tensors,
    write_json,
    write_tensors,
)

WEIGHTS = "cvss4.safetensors"
CONFIG = "cvss4.json"
FORMAT_VERSION = 1


@dataclass
class Cvss4Head:
    v3_values: dict[str, list[str]]  # the v3.1 inputs, metric -> values (the model's order)
    cwe_labels: list[str]  # the CWE inputs (the model's order)
    values: dict[str, list[str]]  # v4.0 metric -> values, output order
    weights: dict[str, np.ndarray]  # metric -> (d, n_values) float32
    biases: dict[str, np.ndarray]  # metric -> (n_values,) float32
    info: dict[str, Any]  # how it was trained (data, split, counts)

    def features(self, cvss: dict[str, np.ndarray], cwe: np.ndarray) -> np.ndarray:
        """The head's input for a batch: (B, 22 + n_cwe) float32."""
        parts = [cvss[m] for m in self.v3_values]
        return np.hstack([*parts, cwe]).astype(np.float32, copy=False)

    def probabilities(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """metric -> (B, n_values) probabilities."""
        out = {}
        for metric, w in self.weights.items():
            out[metric] = softmax(x @ w + self.biases[metric])
        return out

    def save(self, folder: Path) -> None:
        tensors = {f"{m}.weight": w.astype(np.float32) for m, w in self.weights.items()}
        tensors.update({f"{m}.bias": b.astype(np.float32) for m, b in self.biases.items()})
        write_tensors(folder / WEIGHTS, tensors)
        config = {
            "format_version": FORMAT_VERSION,
            "inputs": {"cvss": self.v3_values, "cwe": self.cwe_labels},
            "values": self.values,
            "info": self.info,
        }
        write_json(folder / CONFIG, config, ensure_ascii=True)

    @classmethod
    def load(cls, folder: Path) -> Cvss4Head | None:
        """The head saved in ``folder``; ``None`` if there is none; ModelError if corrupt."""
        if not optional_files(folder, WEIGHTS, CONFIG):
            return None
        try:
            config = read_json(folder / CONFIG, "CVSS v4.0 head config")
            if config.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"format version {config.get('format_version')!r}")
            tensors = read_tensors(folder / WEIGHTS)
            values = {str(m): list(v) for m, v in config["values"].items()}
            v3 = {str(m): list(v) for m, v in config["inputs"]["cvss"].items()}
            cwe = list(config["inputs"]["cwe"])
            d = sum(len(v) for v in v3.values()) + len(cwe)
            what = "the head's inputs and values"
            weights = {
                m: tensors.shaped(f"{m}.weight", (d, len(v)), what) for m, v in values.items()
            }
            biases = {m: tensors.shaped(f"{m}.bias", (len(v),), what) for m, v in values.items()}
        except (ModelError, ValueError, KeyError, TypeError, AttributeError) as exc:
            what = f"{folder}: corrupt CVSS v4.0 head ({CONFIG}/{WEIGHTS}: {exc})"
            raise ModelError(what) from exc
        return cls(v3, cwe, values, weights, biases, dict(config.get("info", {})))

    def check_inputs(self, v3_values: dict[str, list[str]], cwe_labels: Sequence[str]) -> None:
        """ModelError unless the model's outputs are the ones this head was fitted on."""
        if v3_values != self.v3_values or list(cwe_labels) != self.cwe_labels:
            raise ModelError(
                f"the CVSS v4.0 head ({WEIGHTS}) was fitted on another model's outputs; "
                "fit it again on this model (python bench/records/fit.py --help)"
            )


def fit_head(
    x: np.ndarray,
    targets: dict[str, list[str]],
    v3_values: dict[str, list[str]],
    cwe_labels: list[str],
    c: float,
    info: dict[str, Any],
) -> Cvss4Head:
    """Fit one logistic regression per v4.0 metric on ``x`` (rows of :meth:`features`)."""
    from vulntax.models.stacking import fit_linear
    from vulntax.taxonomy.cvss4 import BASE_METRICS, METRIC_VALUE_NAMES

    values: dict[str, list[str]] = {}
    weights: dict[str, np.ndarray] = {}
    biases: dict[str, np.ndarray] = {}
    for metric in BASE_METRICS:
        order = list(METRIC_VALUE_NAMES[metric])
        y = np.array([order.index(v) for v in targets[metric]])
        values[metric] = order
        weights[metric], biases[metric] = fit_linear(x, y, len(order), c)
    return Cvss4Head(v3_values, cwe_labels, values, weights, biases, info)
