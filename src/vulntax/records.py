"""The vulnerability record every reader yields, whatever its input format.

A :class:`CveRecord` keeps the labels *with their source*: NVD analysts
(``nvd``), the CVE Numbering Authority (``cna``), CISA's Authorized Data
Publisher container (``adp``) or anything else (``other``). Training and
evaluation pick a label policy per taxonomy from these; the readers never
decide for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class LabelSource(StrEnum):
    NVD = "nvd"  # NVD analysts (nvd@nist.gov, "Primary")
    CNA = "cna"  # the CNA that published the record ("Secondary" in NVD records)
    ADP = "adp"  # CISA-ADP vulnrichment container of a CVE JSON 5 record
    REMAP = "remap"  # MITRE's CWE Top-25 root-cause remapping
    OTHER = "other"


class InputFormat(StrEnum):
    NVD = "nvd"  # NVD CVE API / feed schema 2.0
    CVE5 = "cve5"  # CVE JSON 5.x record format
    JSONL = "jsonl"  # one {"id", "description"} object per line
    CSV = "csv"  # a header with id and description columns


@dataclass(frozen=True, slots=True)
class CweLabel:
    """One CWE id as a source stated it (raw: placeholders and categories kept)."""

    cwe_id: str  # "CWE-79", or the NVD placeholders "NVD-CWE-Other" / "NVD-CWE-noinfo"
    source: LabelSource
    source_name: str = ""  # e.g. "nvd@nist.gov", "CISA-ADP", a CNA's e-mail or short name


@dataclass(frozen=True, slots=True)
class CvssLabel:
    """One CVSS vector as a source stated it."""

    version: str  # "2.0", "3.0", "3.1" or "4.0"
    vector: str  # the vector string exactly as recorded
    source: LabelSource
    source_name: str = ""
    base_score: float | None = None  # the score the source recorded, if any


@dataclass(frozen=True, slots=True)
class CveRecord:
    """A vulnerability as read from any supported input."""

    id: str  # "CVE-2021-44228", or the id column of a JSONL/CSV file
    description: str  # English description ("" never leaves a reader: see RecordError)
    published: datetime | None = None
    last_modified: datetime | None = None
    status: str | None = None  # NVD vulnStatus / CVE JSON 5 state, where given
    cwes: tuple[CweLabel, ...] = ()
    cvss: tuple[CvssLabel, ...] = ()
    origin: InputFormat = InputFormat.JSONL
    # what the record carries when it is published (read by the metadata-aware model):
    assigner: str = ""  # the CNA: NVD ``sourceIdentifier`` / CVE JSON 5 ``assignerShortName``
    references: tuple[str, ...] = ()  # reference URLs the CNA gave (not those NVD added)
    # the CVE JSON 5 record as read (only when a reader is asked to keep it, for enrichment)
    raw: Any = field(default=None, compare=False, hash=False, repr=False)

    def cwe_ids(self, *sources: LabelSource) -> list[str]:
        """CWE ids from the given sources (all sources if none given), in order, unique."""
        seen: dict[str, None] = {}
        for label in self.cwes:
            if not sources or label.source in sources:
                seen.setdefault(label.cwe_id, None)
        return list(seen)

    def cvss_v3(self, *sources: LabelSource) -> CvssLabel | None:
        """The first v3.1 (else v3.0) vector from the first of ``sources`` that has one."""
        order = sources or tuple(LabelSource)
        for source in order:
            for version in ("3.1", "3.0"):
                for label in self.cvss:
                    if label.source == source and label.version == version:
                        return label
        return None


@dataclass(frozen=True, slots=True)
class RecordError:
    """A record that could not be read: yielded in place of it, never dropped silently."""

    path: str  # the file it came from
    index: int  # 0-based position of the record in that file
    id: str | None  # its id, where one could be read
    reason: str  # one line, for people; generic, so that reasons aggregate in a report
    detail: str = ""  # the specifics of this record (shown in messages, not aggregated)

    def __str__(self) -> str:
        who = self.id or f"#{self.index}"
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.path} (record {who}): {self.reason}{detail}"


@dataclass
class IngestReport:
    """Counts of what a read produced; a reader fills it as it streams."""

    files: list[str] = field(default_factory=list)
    records: int = 0  # good records yielded
    skipped: int = 0  # records replaced by a RecordError
    reasons: dict[str, int] = field(default_factory=dict)  # skip reason -> count
    examples: list[str] = field(default_factory=list)  # the first few skip messages

    MAX_EXAMPLES = 20

    def add_error(self, error: RecordError) -> None:
        self.skipped += 1
        self.reasons[error.reason] = self.reasons.get(error.reason, 0) + 1
        if len(self.examples) < self.MAX_EXAMPLES:
            self.examples.append(str(error))

    def to_dict(self) -> dict[str, object]:
        return {
            "files": list(self.files),
            "records": self.records,
            "skipped": self.skipped,
            "skip_reasons": dict(sorted(self.reasons.items(), key=lambda kv: -kv[1])),
            "skip_examples": list(self.examples),
        }
