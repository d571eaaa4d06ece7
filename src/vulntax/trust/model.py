"""The trust checks of one model: warnings and the CVSS abstention, from fitted thresholds.

A model directory may hold two extra files, written by ``vulntax trust fit``:

* ``trust.json`` — the thresholds (each chosen on the validation split) and the
  measurements behind them;
* ``trust.safetensors`` — the out-of-distribution detector: a logistic regression over
  the model's own tf-idf columns plus a few dense text signals, p(vulnerability
  description | text).

Per text, :meth:`Trust.assess` returns the warnings (``docs/prediction.schema.json``):

* ``not_a_vulnerability_description`` — the detector's p below ``ood_threshold``;
* ``not_english`` — :meth:`vulntax.trust.signals.Signals.not_english`;
* ``reserved_or_rejected`` — a ``** RESERVED **`` / ``** REJECT **`` placeholder;
* ``truncated_input`` — the text was longer than the predictor's limit and was cut;

and whether CVSS abstains: with any of the first three warnings, or when the expected
share of right base metrics (the mean of the eight metrics' top probabilities) is below
``cvss_min_confidence``. The first three also make CWE abstain.

Without ``trust.json`` (or for a model kind without tf-idf columns) there is no detector:
the other three warnings still come and CVSS abstains only with them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import ModelError
from vulntax.trust.signals import Signals, signals

TRUST_JSON = "trust.json"
TRUST_WEIGHTS = "trust.safetensors"
FORMAT_VERSION = 1

MESSAGES = {
    "not_a_vulnerability_description": (
        "this text does not read like a vulnerability description: treat every answer as a guess"
    ),
    "not_english": "this text does not look like English, the language the model reads",
    "reserved_or_rejected": "a RESERVED or REJECTED CVE placeholder carries no description",
    "truncated_input": "the text was longer than {limit:,} characters; only its start was read",
}
ABSTAINING = ("not_a_vulnerability_description", "not_english", "reserved_or_rejected")
DENSE = ("known_share", "english_share", "non_latin_share", "log_tokens", "no_tokens")


@dataclass
class Settings:
    """What ``trust.json`` holds."""

    ood_threshold: float | None = None  # None: no detector
    cvss_min_confidence: float = 0.0  # 0: CVSS abstains only with a warning
    vocabulary_sha256: str | None = None  # the detector's columns are this vocabulary's
    measured: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: Path) -> Settings:
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"{where}: not a vulntax trust file of format {FORMAT_VERSION}")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            settings = cls(**known)
            float(settings.cvss_min_confidence)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{where}: malformed trust settings ({exc})") from None
        return settings


@dataclass
class Detector:
    """p(vulnerability description) = sigmoid(x · w + dense · v + b)."""

    weights: np.ndarray  # (F,) float32, over the model's tf-idf columns
    dense: np.ndarray  # (len(DENSE),) float32
    bias: float

    def probability(self, x: Any, dense: np.ndarray) -> np.ndarray:
        z = np.asarray(x @ self.weights, dtype=np.float64).ravel() + dense @ self.dense + self.bias
        return 1.0 / (1.0 + np.exp(-z))


def known_share(sig: Signals, vocabulary: dict[str, int], words_only: bool = False) -> float:
    """The share of the text's distinct tokens that are in the model's vocabulary.

    ``words_only``: count only tokens made of letters (not identifiers like foo_bar2), as
    the language rule does: code and stack traces in a description are not a language.
    """
    distinct = {t for t in sig.tokens if t.isalpha()} if words_only else set(sig.tokens)
    return sum(1 for t in distinct if t in vocabulary) / len(distinct) if distinct else 0.0


def dense_features(sig: Signals, vocabulary: dict[str, int]) -> list[float]:
    return _dense(sig, known_share(sig, vocabulary))


def _dense(sig: Signals, known: float) -> list[float]:
    return [
        known,
        sig.english_share,
        sig.non_latin_share,
        math.log1p(len(sig.tokens)) / 5.0,
        0.0 if sig.tokens else 1.0,
    ]


def _known_shares(tokens: list[str], vocabulary: dict[str, int]) -> tuple[float, float | None]:
    """known_share over all distinct tokens and over letter-only ones, in one pass."""
    distinct = set(tokens)
    if not distinct:
        return 0.0, 0.0
    known = [t for t in distinct if t in vocabulary]
    letters = sum(map(str.isalpha, distinct))
    known_letters = sum(map(str.isalpha, known))
    return len(known) / len(distinct), (known_letters / letters if letters else 0.0)


def vocabulary_sha256(terms: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(terms).encode("utf-8")).hexdigest()


class Trust:
    def __init__(self, settings: Settings, detector: Detector | None, vocabulary: Any) -> None:
        self.settings = settings
        self.detector = detector
        self.vocabulary: dict[str, int] = vocabulary or {}

    @classmethod
    def for_model(cls, model: Any, folder: Path) -> Trust:
        """The trust checks saved beside ``model`` in ``folder``, or the fallback."""
        features = getattr(model, "features", None)
        vocabulary = getattr(features, "vocabulary", None)
        path = folder / TRUST_JSON
        if not path.is_file():
            return cls(Settings(), None, vocabulary)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ModelError(f"{path}: cannot read the trust settings ({exc})") from None
        settings = Settings.from_dict(data, path)
        detector = None
        if settings.ood_threshold is not None:
            if features is None:
                raise ModelError(f"{path}: a detector needs a model with tf-idf columns")
            if settings.vocabulary_sha256 != vocabulary_sha256(features.terms):
                raise ModelError(
                    f"{path} was fitted for another vocabulary than this model's; refit it "
                    "(python bench/robustness/fit_trust.py --model DIR --dataset DATASET)"
                )
            detector = load_detector(folder / TRUST_WEIGHTS, len(features.idf))
        return cls(settings, detector, vocabulary)

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        (folder / TRUST_JSON).write_text(json.dumps(asdict(self.settings), indent=2) + "\n")
        if self.detector is not None:
            tensors: dict[str, np.ndarray] = {
                "detector.weights": self.detector.weights.astype(np.float16),
                "detector.dense": self.detector.dense.astype(np.float32),
                "detector.bias": np.array([self.detector.bias], dtype=np.float32),
            }
            save_file(tensors, str(folder / TRUST_WEIGHTS))
            (folder / TRUST_WEIGHTS).chmod(0o644)

    # ------------------------------------------------------------------ per batch
    def p_vulnerability(self, texts: Sequence[str], x: Any) -> tuple[np.ndarray, list[Signals]]:
        """The detector's p per text (1.0 without a detector) and the texts' signals."""
        p, sigs, _ = self._signals(texts, x)
        return p, sigs

    def _signals(
        self, texts: Sequence[str], x: Any
    ) -> tuple[np.ndarray, list[Signals], list[float | None]]:
        """Detector p, signals and the share of letter-words the model knows, per text."""
        sigs = [signals(t) for t in texts]
        if not self.vocabulary:
            return np.ones(len(texts)), sigs, [None] * len(texts)
        shares = [_known_shares(s.tokens, self.vocabulary) for s in sigs]
        if self.detector is None or x is None:
            return np.ones(len(texts)), sigs, [w for _, w in shares]
        dense = np.array(
            [_dense(s, known) for s, (known, _) in zip(sigs, shares, strict=True)],
            dtype=np.float64,
        )
        return self.detector.probability(x, dense), sigs, [w for _, w in shares]

    def assess(
        self,
        texts: Sequence[str],
        truncated: Sequence[bool],
        x: Any,
        cvss_confidence: np.ndarray,
        limit: int,
    ) -> list[tuple[list[dict[str, str]], bool, bool]]:
        """Per text: (warnings, CVSS abstains, CWE must abstain)."""
        p, sigs, known_words = self._signals(texts, x)
        threshold = self.settings.ood_threshold
        out = []
        for i, sig in enumerate(sigs):
            codes = []
            if threshold is not None and p[i] < threshold:
                codes.append("not_a_vulnerability_description")
            if sig.not_english(known_words[i]):
                codes.append("not_english")
            if sig.reserved:
                codes.append("reserved_or_rejected")
            if truncated[i]:
                codes.append("truncated_input")
            warnings = [{"code": c, "message": MESSAGES[c].format(limit=limit)} for c in codes]
            refuse = any(c in ABSTAINING for c in codes)
            low = float(cvss_confidence[i]) < self.settings.cvss_min_confidence
            out.append((warnings, refuse or low, refuse))
        return out


def cvss_confidence(cvss: dict[str, np.ndarray]) -> np.ndarray:
    """(B,) the expected share of right base metrics: the mean of each metric's top p."""
    return np.mean([probs.max(axis=1) for probs in cvss.values()], axis=0)


def load_detector(path: Path, n_features: int) -> Detector:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if not path.is_file():
        raise ModelError(f"{path} is missing (trust.json names a detector)")
    try:
        t = load_file(str(path))
        weights = t["detector.weights"].astype(np.float32)
        dense = t["detector.dense"].astype(np.float32)
        bias = float(t["detector.bias"][0])
    except (SafetensorError, OSError, ValueError, KeyError, IndexError) as exc:
        raise ModelError(f"{path}: not a readable trust detector ({exc})") from None
    if weights.shape != (n_features,) or dense.shape != (len(DENSE),):
        raise ModelError(f"{path}: detector shapes do not match the model's vocabulary")
    return Detector(weights, dense, bias)


def apply(
    trust: Trust,
    results: list[dict[str, Any]],
    texts: Sequence[str],
    truncated: Sequence[bool],
    output: Any,
    limit: int,
) -> None:
    """Add ``warnings`` and ``cvss.abstain`` to decoded prediction objects, in place."""
    checks = trust.assess(texts, truncated, output.features, cvss_confidence(output.cvss), limit)
    for result, (warnings, cvss_abstains, refuse) in zip(results, checks, strict=True):
        result["cvss"]["abstain"] = cvss_abstains
        if refuse:
            result["cwe"]["abstain"] = True
        result["warnings"] = warnings
