"""CVSS v4.0 base metrics: a thin adapter over the ``cvss`` package's ``CVSS4``.

Scores and severities come from ``cvss.CVSS4`` (the FIRST v4.0 lookup-table
method); the metric table is the package's own (``cvss.constants4``), cut to
the eleven base metrics. :func:`from_v3` is the rule-based v3.1 → v4.0
translation the learned head is measured against (docs/records.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from cvss import CVSS4
from cvss import constants4 as _c4
from cvss.exceptions import CVSSError

from vulntax.errors import InvalidVectorError

#: the eleven v4.0 base metrics, in the specification's order
BASE_METRICS: tuple[str, ...] = tuple(_c4.METRICS_MANDATORY)
METRIC_NAMES: Mapping[str, str] = MappingProxyType(
    {m: _c4.METRICS_ABBREVIATIONS[m] for m in BASE_METRICS}
)
METRIC_VALUE_NAMES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {m: MappingProxyType(dict(_c4.METRICS_VALUE_NAMES[m])) for m in BASE_METRICS}
)
PREFIX = "CVSS:4.0/"


@dataclass(frozen=True, slots=True)
class Cvss4Score:
    vector: str  # the base vector, metrics in specification order
    base_score: float
    severity: str  # "None" | "Low" | "Medium" | "High" | "Critical"


def metrics_from_vector(vector: str) -> dict[str, str]:
    """The eleven base metrics of a v4.0 vector (other metrics are checked, not returned)."""
    parsed = _parse(vector)
    return {m: parsed.metrics[m] for m in BASE_METRICS}


def vector_from_metrics(metrics: Mapping[str, str]) -> str:
    missing = [m for m in BASE_METRICS if m not in metrics]
    if missing:
        raise InvalidVectorError(f"missing CVSS v4.0 base metric(s): {', '.join(missing)}")
    for m in BASE_METRICS:
        if metrics[m] not in METRIC_VALUE_NAMES[m]:
            raise InvalidVectorError(f"{m} ({METRIC_NAMES[m]}) cannot be {metrics[m]!r}")
    return PREFIX + "/".join(f"{m}:{metrics[m]}" for m in BASE_METRICS)


@lru_cache(maxsize=4096)
def score(vector: str) -> Cvss4Score:
    """Score a v4.0 base vector with ``cvss.CVSS4``."""
    parsed = _parse(vector)
    base = PREFIX + "/".join(f"{m}:{parsed.metrics[m]}" for m in BASE_METRICS)
    return Cvss4Score(base, float(parsed.base_score), str(parsed.severity))


def from_v3(v3: Mapping[str, str]) -> dict[str, str]:
    """A rule-based v4.0 base vector from v3.1 base metrics (the baseline of the head).

    AV, AC, PR carry over; AT is None (v3.1 has no attack requirements); UI:R becomes
    Passive; the impacts on the vulnerable system are C/I/A; with scope Changed the
    subsequent-system impacts repeat them, else they are None.
    """
    changed = v3["S"] == "C"
    return {
        "AV": v3["AV"],
        "AC": v3["AC"],
        "AT": "N",
        "PR": v3["PR"],
        "UI": "P" if v3["UI"] == "R" else "N",
        "VC": v3["C"],
        "VI": v3["I"],
        "VA": v3["A"],
        "SC": v3["C"] if changed else "N",
        "SI": v3["I"] if changed else "N",
        "SA": v3["A"] if changed else "N",
    }


def _parse(vector: str) -> CVSS4:
    if not isinstance(vector, str) or not vector.strip().startswith(PREFIX):
        raise InvalidVectorError(f"{vector!r:.80} is not a CVSS v4.0 vector (CVSS:4.0/...)")
    try:
        return CVSS4(vector.strip())
    except CVSSError as exc:
        message = " ".join(str(exc).split())
        raise InvalidVectorError(f"invalid CVSS v4.0 vector {vector!r:.80}: {message}") from exc
