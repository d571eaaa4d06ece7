"""What every model kind provides, and the fixed layout of a saved model.

A model turns texts into *probabilities per head*; it does not decide the
final answer. :mod:`vulntax.predictor` decodes those probabilities the same way
for every kind (hierarchy-consistent CWE, computed CVSS score, CAPEC/ATT&CK
with names), so a new kind only implements :class:`Classifier`.

A saved model is a directory of fixed file names (:data:`CONFIG`, ...); the
config names the kind, and :func:`vulntax.models.load_model` dispatches on it.
Nothing is ever unpickled: weights are safetensors, everything else JSON; every kind
reads and writes its directory through :mod:`vulntax.models.persistence`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from vulntax.errors import ModelError

CONFIG = "config.json"  # kind, versions, training config, decoding settings
LABELS = "labels.json"  # label ids per head, in output order
WEIGHTS = "weights.safetensors"
METRICS = "metrics.json"  # evaluation figures measured when the model was made
CARD = "README.md"  # the model card
FORMAT_VERSION = 1

HEADS = ("cwe", "cvss", "capec", "attack")


@dataclass(frozen=True)
class Labels:
    """The label ids of every head, in the order of the model's outputs."""

    cwe: list[str]
    cvss: dict[str, list[str]]  # metric -> values, e.g. "AV" -> ["N", "A", "L", "P"]
    capec: list[str] = field(default_factory=list)
    attack: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"cwe": self.cwe, "cvss": self.cvss, "capec": self.capec, "attack": self.attack}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Labels:
        try:
            return cls(
                cwe=list(data["cwe"]),
                cvss={str(k): list(v) for k, v in data["cvss"].items()},
                capec=list(data.get("capec", [])),
                attack=list(data.get("attack", [])),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"{LABELS}: malformed label lists ({exc})") from exc


# explain(head, labels, k): for every row of the batch, the (term, weight) pairs that pushed
# the label chosen for that row (labels: (B,) label indices); head is "cwe" or a CVSS metric
Explainer = Callable[[str, np.ndarray, int], list[list[tuple[str, float]]]]


def _no_explanation(head: str, labels: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
    return [[] for _ in range(len(labels))]


@dataclass
class ModelOutput:
    """Probabilities for a batch of B texts.

    A model may predict only some heads (e.g. LSNet: CVSS only; ``cwe`` is then
    None and ``labels.cwe`` empty); such a model serves inside a composite.
    """

    cwe: np.ndarray | None  # (B, n_cwe), rows sum to 1
    cvss: dict[str, np.ndarray]  # metric -> (B, n_values), rows sum to 1; {} if not predicted
    capec: np.ndarray | None = None  # (B, n_capec), independent probabilities
    attack: np.ndarray | None = None  # (B, n_attack), independent probabilities
    explain: Explainer = _no_explanation
    features: Any = None  # (B, F) CSR tf-idf input of a model that has one (trust checks)


class Classifier(Protocol):
    """The small interface of every model kind."""

    kind: ClassVar[str]
    labels: Labels
    config: dict[str, Any]

    def predict_batch(self, texts: Sequence[str]) -> ModelOutput: ...

    def save(self, path: Path) -> None: ...

    @classmethod
    def load(cls, path: Path) -> Classifier: ...
