"""Reader for CVE JSON 5 records: one ``.json`` record, JSONL of records, or folders of them.

Labels keep their source: the CNA container's CWE ids (``problemTypes``) and
CVSS vectors (``metrics``) are ``cna`` labels named by the CNA's short name;
those of the ADP container whose short name is "CISA-ADP" (vulnrichment) are
``adp`` labels. Other ADP containers (the "CVE Program Container") carry only
references and are ignored.

Policies:

- A REJECTED record has no description: it becomes a :class:`RecordError`.
- ``published`` is ``cveMetadata.datePublished``. Where a record lacks it,
  ``published`` is ``None``: ``dateReserved`` is when the id was handed out,
  often years before publication, and is *not* substituted.
- A ``problemTypes`` entry without ``cweId`` gives the CWE ids its description
  names (e.g. "CWE-94: Improper Control of Generation of Code", "CWE-416, CWE-366").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vulntax.errors import InputError
from vulntax.ingest import _io, detect
from vulntax.ingest._common import (
    MISSING_ID,
    NO_ENGLISH,
    NOT_AN_OBJECT,
    REJECTED,
    BadRecord,
    cvss_label,
    cwe_label,
    english_text,
    languages,
    record_id,
    score,
    timestamp,
)
from vulntax.records import (
    CveRecord,
    CvssLabel,
    CweLabel,
    InputFormat,
    LabelSource,
    RecordError,
)

ADP_SHORT_NAME = "CISA-ADP"
METRIC_KEYS = (("cvssV3_1", "3.1"), ("cvssV3_0", "3.0"), ("cvssV2_0", "2.0"), ("cvssV4_0", "4.0"))
_CWE_IN_TEXT = re.compile(r"\bCWE-[1-9][0-9]*\b")


def read_cve5(
    path: str | Path, layout: str | None = None, keep_raw: bool = False
) -> Iterator[CveRecord | RecordError]:
    """Records of a CVE JSON 5 file: one record (``layout="document"``) or one per line.

    ``keep_raw`` keeps each record's JSON in ``CveRecord.raw`` (for enrichment).
    """
    path = Path(path)
    if layout is None:
        sniffed = detect.require(path)
        if sniffed.format is not InputFormat.CVE5:
            raise InputError(f"expected CVE JSON 5 records, found {sniffed.format}", path)
        layout = sniffed.layout
    name = str(path)
    for index, value in _io.json_values(path, layout or "lines"):
        if isinstance(value, BadRecord):
            yield value.to_error(name, index)
            continue
        try:
            yield record_from_cve5(value, keep_raw)
        except BadRecord as exc:
            yield exc.to_error(name, index)


def record_from_cve5(record: Any, keep_raw: bool = False) -> CveRecord:
    """One CVE JSON 5 record as a :class:`CveRecord`; :class:`BadRecord` if it cannot be."""
    if not isinstance(record, dict):
        raise BadRecord(NOT_AN_OBJECT, f"a {type(record).__name__}")
    meta = record.get("cveMetadata")
    if not isinstance(meta, dict):
        raise BadRecord(MISSING_ID, "no 'cveMetadata' object")
    rid = record_id(meta.get("cveId"))
    try:
        state = meta.get("state")
        containers = record.get("containers")
        cna = containers.get("cna") if isinstance(containers, dict) else None
        if state == "REJECTED":
            why = english_text(cna.get("rejectedReasons")) if isinstance(cna, dict) else None
            raise BadRecord(REJECTED, " ".join((why or "state REJECTED").split())[:120])
        if not isinstance(cna, dict):
            raise BadRecord(NO_ENGLISH, "no 'containers.cna' object")
        text = english_text(cna.get("descriptions"))
        if text is None:
            raise BadRecord(NO_ENGLISH, languages(cna.get("descriptions")))
        cna_name = _short_name(cna) or _text(meta.get("assignerShortName"))
        cwes = _cwes(cna, LabelSource.CNA, cna_name)
        cvss = _cvss(cna, LabelSource.CNA, cna_name)
        for adp in containers.get("adp") or ():  # type: ignore[union-attr]
            if isinstance(adp, dict) and _short_name(adp) == ADP_SHORT_NAME:
                cwes += _cwes(adp, LabelSource.ADP, ADP_SHORT_NAME)
                cvss += _cvss(adp, LabelSource.ADP, ADP_SHORT_NAME)
        return CveRecord(
            id=rid,
            description=text,
            published=timestamp(meta.get("datePublished"), "datePublished"),
            last_modified=timestamp(meta.get("dateUpdated"), "dateUpdated"),
            status=state if isinstance(state, str) else None,
            cwes=tuple(dict.fromkeys(cwes)),
            cvss=cvss,
            origin=InputFormat.CVE5,
            assigner=_text(meta.get("assignerShortName")) or cna_name,
            references=_references(cna.get("references")),
            raw=record if keep_raw else None,
        )
    except BadRecord as exc:
        exc.record_id = rid
        raise


def _short_name(container: dict[str, Any]) -> str:
    meta = container.get("providerMetadata")
    return _text(meta.get("shortName")) if isinstance(meta, dict) else ""


def _references(references: Any) -> tuple[str, ...]:
    if not isinstance(references, list):
        return ()
    urls = (r.get("url") for r in references if isinstance(r, dict))
    return tuple(dict.fromkeys(u for u in urls if isinstance(u, str) and u))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _cwes(container: dict[str, Any], source: LabelSource, name: str) -> tuple[CweLabel, ...]:
    labels: list[CweLabel] = []
    for problem in container.get("problemTypes") or ():
        if not isinstance(problem, dict):
            continue
        for entry in problem.get("descriptions") or ():
            if not isinstance(entry, dict):
                continue
            cwe_id = entry.get("cweId")
            if isinstance(cwe_id, str) and cwe_id.strip():
                labels.append(cwe_label(cwe_id.strip(), source, name))
            else:  # "CWE-94: Improper Control of …", "CWE-416, CWE-366"
                for named in _CWE_IN_TEXT.findall(_text(entry.get("description"))):
                    labels.append(cwe_label(named, source, name))
    return tuple(labels)


def _cvss(container: dict[str, Any], source: LabelSource, name: str) -> tuple[CvssLabel, ...]:
    labels: list[CvssLabel] = []
    for metric in container.get("metrics") or ():
        if not isinstance(metric, dict):
            continue
        for key, default_version in METRIC_KEYS:
            data = metric.get(key)
            if not isinstance(data, dict):
                continue
            vector = data.get("vectorString")
            if not isinstance(vector, str) or not vector:
                continue
            version = data.get("version")
            labels.append(
                cvss_label(
                    version if isinstance(version, str) else default_version,
                    vector,
                    source,
                    name,
                    score(data.get("baseScore")),
                )
            )
    return tuple(labels)
