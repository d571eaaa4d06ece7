"""Reader for NVD CVE schema 2.0: the yearly feeds, NVD API pages, and JSONL of items.

A feed or API page is one JSON object whose ``vulnerabilities`` array holds the
records; it is streamed with ijson (flat memory for any size). Every
``vulnerabilities[].cve`` becomes a :class:`~vulntax.records.CveRecord` with all
its CWE ids and CVSS vectors, each with the source that stated it:
``nvd@nist.gov`` is NVD's analysts, CISA's ADP organisation id is the ADP, and
any other source is the CNA (its name kept).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vulntax.errors import InputError
from vulntax.ingest import _io, detect
from vulntax.ingest._common import (
    NO_ENGLISH,
    NOT_AN_OBJECT,
    UTF8_BOM,
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

NVD_SOURCE = "nvd@nist.gov"
# NVD names CISA's Authorized Data Publisher (vulnrichment) by its CVE Program
# organisation id: the same orgId as the "CISA-ADP" container of CVE JSON 5 records.
ADP_SOURCES = {"134c704f-9b21-4f2e-91b3-4a467353bcc0": "CISA-ADP"}
METRIC_KEYS = (
    ("cvssMetricV31", "3.1"),
    ("cvssMetricV30", "3.0"),
    ("cvssMetricV2", "2.0"),
    ("cvssMetricV40", "4.0"),
)
REJECT_PREFIX = "** REJECT **"


def read_nvd(path: str | Path, layout: str | None = None) -> Iterator[CveRecord | RecordError]:
    """Records of an NVD feed / API page (``layout="feed"``) or JSONL of ``{"cve": ...}``."""
    path = Path(path)
    if layout is None:
        sniffed = detect.require(path)
        if sniffed.format is not InputFormat.NVD:
            raise InputError(f"expected NVD schema 2.0, found {sniffed.format}", path)
        layout = sniffed.layout
    if layout == "feed":
        yield from _read_feed(path)
        return
    name = str(path)
    for index, value in _io.json_values(path, layout or "lines"):
        yield _convert_or_error(value, name, index)


def _read_feed(path: Path) -> Iterator[CveRecord | RecordError]:
    import ijson

    name = str(path)
    index = 0
    last_id: str | None = None
    with _io.open_binary(path) as stream:
        if stream.peek(3).startswith(UTF8_BOM):
            stream.read(3)
        items = ijson.items(stream, "vulnerabilities.item", use_float=True, multiple_values=True)
        try:
            for item in items:
                result = _convert_or_error(item, name, index)
                last_id = result.id
                index += 1
                yield result
        except ijson.JSONError as exc:
            after = f"after record {last_id}" if last_id else "before the first record"
            message = " ".join(str(exc).split())[:200]
            raise InputError(f"malformed JSON {after} ({message})", path, f"#{index}") from None


def _convert_or_error(value: Any, path: str, index: int) -> CveRecord | RecordError:
    if isinstance(value, BadRecord):
        return value.to_error(path, index)
    try:
        return record_from_item(value)
    except BadRecord as exc:
        return exc.to_error(path, index)


def record_from_item(item: Any) -> CveRecord:
    """One ``vulnerabilities[]`` item (``{"cve": {...}}``) as a record, or :class:`BadRecord`."""
    if not isinstance(item, dict):
        raise BadRecord(NOT_AN_OBJECT, f"a {type(item).__name__}")
    cve = item.get("cve")
    if not isinstance(cve, dict):
        raise BadRecord(NOT_AN_OBJECT, "no 'cve' object")
    rid = record_id(cve.get("id"))
    try:
        descriptions = cve.get("descriptions")
        text = english_text(descriptions)
        if text is None:
            raise BadRecord(NO_ENGLISH, languages(descriptions))
        status = cve.get("vulnStatus")
        if status is None and text.startswith(REJECT_PREFIX):
            status = "Rejected"
        return CveRecord(
            id=rid,
            description=text,
            published=timestamp(cve.get("published"), "published"),
            last_modified=timestamp(cve.get("lastModified"), "lastModified"),
            status=status if isinstance(status, str) else None,
            cwes=_weaknesses(cve.get("weaknesses")),
            cvss=_metrics(cve.get("metrics")),
            origin=InputFormat.NVD,
            assigner=_string(cve.get("sourceIdentifier")),
            references=_references(cve.get("references"), cve.get("sourceIdentifier")),
        )
    except BadRecord as exc:
        exc.record_id = rid
        raise


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


# Reference sources of records converted from the 1.1 feeds: a reference type, not who added it.
_LEGACY_SOURCES = {"MISC", "CONFIRM", "N/A", ""}


def _references(references: Any, assigner: Any) -> tuple[str, ...]:
    """The URLs of the references the CNA gave (source = the record's sourceIdentifier).

    Records converted from the older 1.1 feeds name a reference *type* (MISC, CONFIRM, ...)
    instead of a source; there only the untyped kinds are kept (distribution advisories such
    as FEDORA or GENTOO are usually added after publication).
    """
    if not isinstance(references, list):
        return ()
    urls: dict[str, None] = {}
    for ref in references:
        if not isinstance(ref, dict) or not isinstance(ref.get("url"), str):
            continue
        source = ref.get("source")
        if source == assigner or (isinstance(source, str) and source in _LEGACY_SOURCES):
            urls.setdefault(ref["url"], None)
    return tuple(urls)


def label_source(name: Any) -> tuple[LabelSource, str]:
    """The label source an NVD ``source`` field stands for, and the name to keep."""
    if not isinstance(name, str):
        return LabelSource.CNA, ""
    if name == NVD_SOURCE:
        return _NVD
    adp = ADP_SOURCES.get(name)
    if adp is not None:
        return LabelSource.ADP, adp
    return LabelSource.CNA, name


_NVD = (LabelSource.NVD, NVD_SOURCE)


def _weaknesses(weaknesses: Any) -> tuple[CweLabel, ...]:
    if not weaknesses or not isinstance(weaknesses, list):
        return ()
    labels: dict[CweLabel, None] = {}
    for weakness in weaknesses:
        if not isinstance(weakness, dict):
            continue
        source, source_name = label_source(weakness.get("source"))
        for entry in weakness.get("description") or ():
            value = entry.get("value") if isinstance(entry, dict) else None
            if isinstance(value, str) and value.strip():
                labels.setdefault(cwe_label(value.strip(), source, source_name), None)
    return tuple(labels)


def _metrics(metrics: Any) -> tuple[CvssLabel, ...]:
    if not metrics or not isinstance(metrics, dict):
        return ()
    labels: list[CvssLabel] = []
    for key, default_version in METRIC_KEYS:  # in this order, whatever the file's order
        entries = metrics.get(key)
        if not entries or not isinstance(entries, list):
            continue
        for metric in entries:
            data = metric.get("cvssData") if isinstance(metric, dict) else None
            vector = data.get("vectorString") if isinstance(data, dict) else None
            if not isinstance(vector, str) or not vector:
                continue  # nothing to keep: a metric is its vector
            version = data.get("version")  # type: ignore[union-attr]
            source, source_name = label_source(metric.get("source"))
            labels.append(
                cvss_label(
                    version if isinstance(version, str) else default_version,
                    vector,
                    source,
                    source_name,
                    score(data.get("baseScore")),  # type: ignore[union-attr]
                )
            )
    return tuple(labels)
