"""CVSS v3.0 / v3.1 base metrics: a thin adapter over the ``cvss`` package.

Scores, severities and the clean form of a vector all come from
``cvss.CVSS3`` (Red Hat's implementation of the FIRST specification); this
module does no arithmetic of its own. The metric table (names and values) is the
package's own (``cvss.constants3``), cut to the eight base metrics.

Every invalid vector (malformed, an unknown metric or value, a missing mandatory
metric, a CVSS v2 or v4 vector) raises :class:`~vulntax.errors.InvalidVectorError`
with a one-line message naming the problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cvss import CVSS3
from cvss import constants3 as _c3
from cvss.exceptions import CVSSError

from vulntax.errors import InvalidVectorError

#: the eight v3 base metrics, in the specification's order
BASE_METRICS: tuple[str, ...] = tuple(_c3.METRICS_MANDATORY)
#: metric → full name ("AV" → "Attack Vector")
METRIC_NAMES: Mapping[str, str] = MappingProxyType(
    {m: _c3.METRICS_ABBREVIATIONS[m] for m in BASE_METRICS}
)
#: metric → {value → name} ("AV" → {"N": "Network", "A": "Adjacent", ...}), spec order
METRIC_VALUE_NAMES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {m: MappingProxyType(dict(_c3.METRICS_VALUE_NAMES[m])) for m in BASE_METRICS}
)
VERSIONS = ("3.0", "3.1")
#: a v3.0/v3.1 vector as the HTTP API documents it: the base metrics in the specification's
#: order, then any temporal and environmental ones, in that order too (the cvss package
#: accepts every string that matches; it also accepts some that do not, e.g. other orders)
VECTOR_PATTERN = (
    r"^CVSS:3\.[01]"
    + "".join(f"/{m}:[{''.join(_c3.METRICS_VALUES[m])}]" for m in _c3.METRICS_MANDATORY)
    + "".join(
        f"(/{m}:[{''.join(_c3.METRICS_VALUES[m])}])?"
        for m in _c3.METRICS_ABBREVIATIONS
        if m not in _c3.METRICS_MANDATORY
    )
    + "$"
)

_PREFIX = re.compile(r"CVSS:(\d+(?:\.\d+)?)/")
_V2_METRIC = re.compile(r"(?:^|/)Au:")  # v2 vectors always hold Authentication


@dataclass(frozen=True, slots=True)
class CvssScore:
    """A scored v3 vector."""

    version: str  # "3.0" or "3.1"
    vector: str  # the clean vector (cvss's canonical order, no "not defined" metrics)
    base_score: float
    severity: str  # "None" | "Low" | "Medium" | "High" | "Critical"
    metrics: Mapping[str, str]  # the eight base metrics, e.g. {"AV": "N", ...}

    def to_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "vector": self.vector,
            "base_score": self.base_score,
            "severity": self.severity,
            "metrics": dict(self.metrics),
        }


def metric_values(metric: str) -> tuple[str, ...]:
    """The values a base metric takes: ``metric_values("AV") == ("N", "A", "L", "P")``."""
    if metric not in METRIC_VALUE_NAMES:
        raise InvalidVectorError(
            f"unknown CVSS v3 base metric {metric!r} (one of {', '.join(BASE_METRICS)})"
        )
    return tuple(METRIC_VALUE_NAMES[metric])


def vector_from_metrics(metrics: Mapping[str, str], version: str = "3.1") -> str:
    """The vector of eight base metrics: ``{"AV": "N", ...}`` → ``"CVSS:3.1/AV:N/..."``."""
    if version not in VERSIONS:
        raise InvalidVectorError(f"CVSS version {version!r} is not a v3 version (3.0 or 3.1)")
    unknown = sorted(set(metrics) - set(BASE_METRICS))
    if unknown:
        raise InvalidVectorError(f"unknown CVSS v3 base metric(s): {', '.join(unknown)}")
    missing = [m for m in BASE_METRICS if m not in metrics]
    if missing:
        raise InvalidVectorError(f"missing CVSS v3 base metric(s): {', '.join(missing)}")
    for metric in BASE_METRICS:
        if metrics[metric] not in METRIC_VALUE_NAMES[metric]:
            raise InvalidVectorError(
                f"{metric} ({METRIC_NAMES[metric]}) cannot be {metrics[metric]!r}: "
                f"one of {', '.join(METRIC_VALUE_NAMES[metric])}"
            )
    vector = f"CVSS:{version}/" + "/".join(f"{m}:{metrics[m]}" for m in BASE_METRICS)
    _parse(vector)  # the cvss package has the last word
    return vector


def metrics_from_vector(vector: str) -> dict[str, str]:
    """The eight base metrics of a v3.0/v3.1 vector, in order.

    Temporal and environmental metrics are checked by ``cvss`` but not returned.
    """
    parsed = _parse(vector)
    return {m: parsed.metrics[m] for m in BASE_METRICS}


def score(vector: str) -> CvssScore:
    """Score a v3.0/v3.1 vector with ``cvss`` (the base score and its severity)."""
    parsed = _parse(vector)
    return CvssScore(
        version=f"3.{parsed.minor_version}",
        vector=parsed.clean_vector(),
        base_score=float(parsed.scores()[0]),
        severity=str(parsed.severities()[0]),
        metrics=MappingProxyType({m: parsed.metrics[m] for m in BASE_METRICS}),
    )


def subscores(vector: str) -> tuple[float, float, float]:
    """(base score, impact subscore, exploitability subscore) of a v3.0/v3.1 vector.

    The subscores are ``cvss``'s own (``CVSS3.isc`` and ``CVSS3.esc``), rounded to one
    decimal as NVD publishes them; an impact below zero (scope changed, no impact) is 0.
    """
    parsed = _parse(vector)
    impact = max(0.0, float(parsed.isc))
    return float(parsed.scores()[0]), round(impact, 1), round(float(parsed.esc), 1)


def describe(vector: str) -> list[tuple[str, str, str, str]]:
    """Each base metric spelled out: ``[("AV", "Attack Vector", "N", "Network"), ...]``."""
    metrics = metrics_from_vector(vector)
    return [(m, METRIC_NAMES[m], v, METRIC_VALUE_NAMES[m][v]) for m, v in metrics.items()]


def _parse(vector: str) -> CVSS3:
    if not isinstance(vector, str):
        raise InvalidVectorError(f"a CVSS vector is a string, not {type(vector).__name__}")
    text = vector.strip()
    if not text:
        raise InvalidVectorError("empty CVSS vector")
    prefix = _PREFIX.match(text)
    if prefix is None:
        if _V2_METRIC.search(text):
            raise InvalidVectorError(
                f"{text!r} is a CVSS v2 vector; only CVSS v3.0/v3.1 vectors are accepted"
            )
        raise InvalidVectorError(
            f"{text!r} is not a CVSS v3 vector: it must start with CVSS:3.1/ or CVSS:3.0/"
        )
    if prefix.group(1) not in VERSIONS:
        raise InvalidVectorError(
            f"{text!r} is a CVSS {prefix.group(1)} vector; only CVSS v3.0/v3.1 are accepted"
        )
    try:
        return CVSS3(text)
    except CVSSError as exc:
        message = " ".join(str(exc).split())
        raise InvalidVectorError(f"invalid CVSS vector {text!r}: {message}") from exc
