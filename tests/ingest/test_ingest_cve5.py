"""The CVE JSON 5 reader on real vulnrichment records: JSONL, single files, cvelistV5 folders."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from slices import jsonl_bytes, write

from vulntax.errors import InputError
from vulntax.ingest import IngestReport, InputFormat, detect_format, read
from vulntax.records import CveRecord, LabelSource, RecordError


def one(records: dict[str, Any], case: str, tmp_path: Path) -> CveRecord | RecordError:
    (result,) = read(write(tmp_path / f"{case}.json", json.dumps(records[case], indent=2).encode()))
    return result


def test_cna_labels_and_dates(cve5_records: dict[str, Any], tmp_path: Path) -> None:
    raw = cve5_records["cna_cvss"]
    record = one(cve5_records, "cna_cvss", tmp_path)
    assert isinstance(record, CveRecord) and record.origin is InputFormat.CVE5
    meta, cna = raw["cveMetadata"], raw["containers"]["cna"]
    assert record.id == meta["cveId"] and record.status == "PUBLISHED"
    assert record.published == datetime.fromisoformat(meta["datePublished"].replace("Z", "+00:00"))
    assert (
        record.description
        == next(d["value"] for d in cna["descriptions"] if d["lang"].startswith("en")).strip()
    )
    name = cna["providerMetadata"]["shortName"]
    cna_vectors = [m["cvssV3_1"]["vectorString"] for m in cna["metrics"] if "cvssV3_1" in m]
    assert [
        v.vector for v in record.cvss if v.source is LabelSource.CNA and v.version == "3.1"
    ] == cna_vectors
    assert all(v.source_name == name for v in record.cvss if v.source is LabelSource.CNA)
    cna_cwes = [
        d["cweId"] for p in cna.get("problemTypes", []) for d in p["descriptions"] if "cweId" in d
    ]
    assert record.cwe_ids(LabelSource.CNA) == list(dict.fromkeys(cna_cwes))


def test_cisa_adp_container_gives_adp_labels(cve5_records: dict[str, Any], tmp_path: Path) -> None:
    raw = cve5_records["adp_cvss"]
    record = one(cve5_records, "adp_cvss", tmp_path)
    assert isinstance(record, CveRecord)
    (adp,) = [
        a for a in raw["containers"]["adp"] if a["providerMetadata"]["shortName"] == "CISA-ADP"
    ]
    vectors = [m["cvssV3_1"]["vectorString"] for m in adp["metrics"] if "cvssV3_1" in m]
    adp_labels = [v for v in record.cvss if v.source is LabelSource.ADP]
    assert [v.vector for v in adp_labels] == vectors and vectors
    assert {v.source_name for v in adp_labels} == {"CISA-ADP"}
    assert record.cvss_v3(LabelSource.ADP) is not None
    adp_cwes = [
        d["cweId"] for p in adp.get("problemTypes", []) for d in p["descriptions"] if "cweId" in d
    ]
    assert record.cwe_ids(LabelSource.ADP) == list(dict.fromkeys(adp_cwes))


def test_rejected_record_is_a_record_error(cve5_records: dict[str, Any], tmp_path: Path) -> None:
    error = one(cve5_records, "rejected", tmp_path)
    assert isinstance(error, RecordError)
    assert (
        "rejected" in error.reason and error.id == cve5_records["rejected"]["cveMetadata"]["cveId"]
    )


def test_missing_date_published_stays_none(cve5_records: dict[str, Any], tmp_path: Path) -> None:
    record = one(cve5_records, "no_date_published", tmp_path)
    assert isinstance(record, CveRecord)
    assert record.published is None and record.last_modified is not None


def test_cwe_named_only_in_the_description_text(
    cve5_records: dict[str, Any], tmp_path: Path
) -> None:
    raw = cve5_records["cwe_in_text"]
    record = one(cve5_records, "cwe_in_text", tmp_path)
    assert isinstance(record, CveRecord)
    named = [
        re.match(r"CWE-\d+", d["description"]).group(0)  # type: ignore[union-attr]
        for p in raw["containers"]["cna"]["problemTypes"]
        for d in p["descriptions"]
        if "cweId" not in d and d.get("description", "").startswith("CWE-")
    ]
    assert named and set(named) <= set(record.cwe_ids(LabelSource.CNA))


def test_regional_english_tag(cve5_records: dict[str, Any], tmp_path: Path) -> None:
    record = one(cve5_records, "en_us", tmp_path)
    assert isinstance(record, CveRecord) and record.description


def test_no_english_description(cve5_records: dict[str, Any], tmp_path: Path) -> None:
    raw = json.loads(json.dumps(cve5_records["plain"]))
    for d in raw["containers"]["cna"]["descriptions"]:
        d["lang"] = "de"
    (error,) = read(write(tmp_path / "de.json", json.dumps(raw).encode()))
    assert isinstance(error, RecordError) and error.reason == "no English description"


def test_jsonl_and_report(cve5_records: dict[str, Any], tmp_path: Path) -> None:
    records = list(cve5_records.values())
    path = write(tmp_path / "records.jsonl.gz", jsonl_bytes(records) + b"{broken\n")
    assert detect_format(path) is InputFormat.CVE5
    report = IngestReport()
    out = list(read(path, report=report))
    assert len(out) == len(records) + 1
    assert report.records == len(records) - 1  # the rejected one
    assert report.reasons == {"rejected CVE (no description)": 1, "invalid JSON line": 1}
    assert isinstance(out[-1], RecordError) and out[-1].index == len(records)


def test_cvelist_folder(cve5_records: dict[str, Any], tmp_path: Path) -> None:
    """cvelistV5 layout: cves/YEAR/NNxxx/CVE-….json, plus delta.json bookkeeping."""
    root = tmp_path / "cvelistV5"
    unique = {r["cveMetadata"]["cveId"]: r for r in cve5_records.values()}
    for record in unique.values():
        cve_id = record["cveMetadata"]["cveId"]
        year, number = cve_id.split("-")[1:]
        write(
            root / "cves" / year / f"{number[:-3]}xxx" / f"{cve_id}.json",
            json.dumps(record, indent=2).encode(),
        )
    write(
        root / "cves" / "delta.json",
        json.dumps({"fetchTime": "2024-10-24", "new": [], "updated": []}).encode(),
    )
    write(root / "README.md", b"# cvelistV5\n")
    write(root / ".git" / "config.json", b"{}")
    assert detect_format(root) is InputFormat.CVE5
    report = IngestReport()
    out = list(read(root, report=report))
    assert report.records == len(unique) - 1
    assert report.reasons == {"rejected CVE (no description)": 1, "not a record file": 1}
    not_records = [o for o in out if isinstance(o, RecordError) and o.reason == "not a record file"]
    assert not_records[0].path.endswith("delta.json")
    assert report.files == sorted(report.files) and len(report.files) == len(unique) + 1


def test_malformed_single_record_file(cve5_records: dict[str, Any], tmp_path: Path) -> None:
    text = json.dumps(cve5_records["plain"], indent=2)
    path = write(tmp_path / "CVE-x.json", text[: len(text) // 2].encode())
    with pytest.raises(InputError, match="malformed JSON"):
        list(read(path))


def test_jsonl_with_a_first_line_over_a_mebibyte(
    cve5_records: dict[str, Any], tmp_path: Path
) -> None:
    big = json.loads(json.dumps(cve5_records["plain"]))
    big["containers"]["cna"]["x_generator"] = {"padding": "x" * (1 << 21)}
    path = write(tmp_path / "big.jsonl.gz", jsonl_bytes([big, cve5_records["cna_cvss"]]))
    assert detect_format(path) is InputFormat.CVE5
    out = list(read(path))
    assert [r.id for r in out if isinstance(r, CveRecord)] == [
        big["cveMetadata"]["cveId"],
        cve5_records["cna_cvss"]["cveMetadata"]["cveId"],
    ]
