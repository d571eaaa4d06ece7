"""What a record says beside its description, as the metadata-aware model reads it.

Only what a record carries when it is published — what an NVD analyst sees
when scoring it — is read: the assigning CNA, the reference URLs the CNA gave
(hostname, and hostname + first path segment), and the CNA's own CWE ids and
CVSS v3 vector. NVD's own labels, ADP containers and CPE configurations are
added later and are never read.

Every field becomes a token (``cna:vuldb``, ``host:github.com``,
``path:github.com/acme``, ``cwe:CWE-79``, ``v3:AV=N``); a record without any is
*description-only* and gets exactly the description-only prediction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from vulntax.records import CveRecord, LabelSource

MAX_REFERENCES = 30  # a record with hundreds of references is capped (advisory lists)
FIELDS = ("cna", "references", "cna_cwe", "cna_cvss")


@dataclass(frozen=True, slots=True)
class RecordMeta:
    cna: str = ""  # NVD sourceIdentifier or CVE JSON 5 assignerShortName
    references: tuple[str, ...] = ()  # URLs
    cna_cwes: tuple[str, ...] = ()  # "CWE-79", as the CNA stated them
    cna_cvss: Mapping[str, str] | None = None  # the CNA's v3 base metrics {"AV": "N", ...}

    def fields(self) -> list[str]:
        """Which of :data:`FIELDS` this record carries."""
        have = (self.cna, self.references, self.cna_cwes, self.cna_cvss)
        return [name for name, value in zip(FIELDS, have, strict=True) if value]

    def tokens(self, aliases: Mapping[str, str] | None = None) -> list[str]:
        """The record's tokens; ``aliases`` maps a CNA's short name to the name NVD uses."""
        out: dict[str, None] = {}
        if self.cna:
            cna = self.cna.strip().lower()
            out[f"cna:{(aliases or {}).get(cna, cna)}"] = None
        for url in self.references[:MAX_REFERENCES]:
            host, first = _host_path(url)
            if host:
                out[f"host:{host}"] = None
                if first:
                    out[f"path:{host}/{first}"] = None
        for cwe in self.cna_cwes:
            out[f"cwe:{cwe}"] = None
        for metric, value in (self.cna_cvss or {}).items():
            out[f"v3:{metric}={value}"] = None
        return list(out)


def from_record(record: CveRecord) -> RecordMeta | None:
    """The metadata of a record; ``None`` if it carries none (JSONL / CSV input)."""
    from vulntax.errors import InvalidVectorError
    from vulntax.taxonomy.cvss import metrics_from_vector

    label = record.cvss_v3(LabelSource.CNA)
    metrics = None
    if label is not None:
        try:
            metrics = metrics_from_vector(label.vector)
        except InvalidVectorError:
            metrics = None
    cwes = tuple(c for c in record.cwe_ids(LabelSource.CNA) if c.startswith("CWE-"))
    meta = RecordMeta(record.assigner, record.references, cwes, metrics)
    return meta if meta.fields() else None


def from_json(data: Any) -> RecordMeta | None:
    """Metadata from the optional fields of an API request (``cna``, ``references``, ...).

    Raises ValueError with a one-line reason for a malformed field.
    """
    from vulntax.taxonomy.cvss import metrics_from_vector

    if not data:
        return None
    cna = data.get("cna") or ""
    refs = tuple(data.get("references") or ())
    cwes = tuple(data.get("cna_cwe") or ())
    vector = data.get("cna_cvss")
    metrics = metrics_from_vector(vector) if vector else None
    meta = RecordMeta(str(cna), tuple(str(r) for r in refs), tuple(str(c) for c in cwes), metrics)
    return meta if meta.fields() else None


def _host_path(url: str) -> tuple[str, str]:
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return "", ""
    if host.startswith("www."):
        host = host[4:]
    segments = [s for s in parts.path.split("/") if s]
    return host, segments[0].lower() if segments else ""


def token_lists(
    metas: Sequence[RecordMeta | None], aliases: Mapping[str, str] | None = None
) -> list[list[str]]:
    return [m.tokens(aliases) if m is not None else [] for m in metas]
