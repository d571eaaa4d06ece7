"""The NVD schema-2.0 reader on real records re-wrapped in the feed envelope."""

from __future__ import annotations

import copy
import gzip
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slices import english, feed_bytes, jsonl_bytes, write

from vulntax.errors import InputError
from vulntax.ingest import IngestReport, InputFormat, detect_format, read
from vulntax.records import CveRecord, LabelSource, RecordError

CISA_ADP_ORG = "134c704f-9b21-4f2e-91b3-4a467353bcc0"


def good(items: list[Any]) -> list[CveRecord]:
    assert all(isinstance(i, CveRecord) for i in items), [
        i for i in items if not isinstance(i, CveRecord)
    ]
    return items


def expected_source(name: str) -> LabelSource:
    if name == "nvd@nist.gov":
        return LabelSource.NVD
    return LabelSource.ADP if name == CISA_ADP_ORG else LabelSource.CNA


@pytest.mark.parametrize("name", ["feed.json.gz", "feed.json", "page.json.gz"])
def test_feed_records_match_the_raw_items(tmp_path: Path, nvd_items: list[Any], name: str) -> None:
    path = write(tmp_path / name, feed_bytes(nvd_items))
    assert detect_format(path) is InputFormat.NVD
    records = good(list(read(path)))
    assert [r.id for r in records] == [i["cve"]["id"] for i in nvd_items]
    for record, item in zip(records, nvd_items, strict=True):
        cve = item["cve"]
        assert record.origin is InputFormat.NVD
        assert record.description == english(item)
        assert record.published == datetime.fromisoformat(cve["published"]).replace(tzinfo=UTC)
        assert record.last_modified is not None and record.last_modified.tzinfo is not None
        assert record.status == cve.get("vulnStatus")
        stated_cwes = {
            (d["value"], expected_source(w["source"]))
            for w in cve["weaknesses"]
            for d in w["description"]
        }
        assert {(c.cwe_id, c.source) for c in record.cwes} == stated_cwes
        stated_vectors = sorted(
            (
                m["cvssData"]["vectorString"],
                m["cvssData"]["baseScore"],
                expected_source(m["source"]),
            )
            for ms in cve["metrics"].values()
            for m in ms
        )
        assert sorted((v.vector, v.base_score, v.source) for v in record.cvss) == stated_vectors


def test_label_sources_keep_names(tmp_path: Path, nvd_items: list[Any], data_dir: Path) -> None:
    records = good(list(read(write(tmp_path / "f.json.gz", feed_bytes(nvd_items)))))
    names = {(label.source, label.source_name) for r in records for label in (*r.cwes, *r.cvss)}
    assert (LabelSource.NVD, "nvd@nist.gov") in names
    assert (LabelSource.ADP, "CISA-ADP") in names  # 1999 feed: CISA-ADP metrics
    cna_names = {name for source, name in names if source is LabelSource.CNA}
    assert cna_names and all("@" in name or "-" in name for name in cna_names)
    # the orgId NVD uses for CISA's ADP is the one CVE JSON 5 records give the CISA-ADP container
    with gzip.open(data_dir / "cve5" / "vulnrichment-2024-10-24.jsonl.gz", "rt") as lines:
        record = json.loads(next(lines))
    orgs = {
        a["providerMetadata"]["shortName"]: a["providerMetadata"]["orgId"]
        for a in record["containers"]["adp"]
    }
    assert orgs["CISA-ADP"] == CISA_ADP_ORG


def test_a_whole_yearly_feed_matches_its_total(data_dir: Path) -> None:
    path = data_dir / "nvd" / "nvdcve-2.0-2022.json.gz"
    with gzip.open(path, "rb") as stream:
        total = int(re.search(rb'"totalResults":(\d+)', stream.read(200)).group(1))  # type: ignore[union-attr]
    report = IngestReport()
    ids = [r.id for r in read(path, report=report)]
    assert total == 17102 and len(ids) == total == report.records and report.skipped == 0
    assert len(set(ids)) == total


def test_jsonl_of_items_reads_like_the_feed(tmp_path: Path, nvd_items: list[Any]) -> None:
    feed = list(read(write(tmp_path / "f.json", feed_bytes(nvd_items))))
    lines = write(tmp_path / "items.jsonl.gz", jsonl_bytes(nvd_items))
    assert detect_format(lines) is InputFormat.NVD
    assert list(read(lines)) == feed


def test_no_english_description_is_a_counted_record_error(
    tmp_path: Path, nvd_feeds: dict[str, Any]
) -> None:
    items = copy.deepcopy(nvd_feeds["nvdcve-2.0-2024.json.gz"][:5])
    spanish = next(
        i for i in nvd_feeds["nvdcve-2.0-2003.json.gz"] if len(i["cve"]["descriptions"]) > 1
    )
    lost = copy.deepcopy(spanish)
    lost["cve"]["descriptions"] = [d for d in lost["cve"]["descriptions"] if d["lang"] != "en"]
    assert lost["cve"]["descriptions"], "the slice needs a record with a Spanish description"
    items.insert(2, lost)
    report = IngestReport()
    out = list(read(write(tmp_path / "f.json.gz", feed_bytes(items)), report=report))
    assert len(out) == 6 and report.records == 5 and report.skipped == 1
    error = out[2]
    assert isinstance(error, RecordError)
    assert error.reason == "no English description" and error.id == lost["cve"]["id"]
    assert error.index == 2 and "es" in error.detail
    assert report.reasons == {"no English description": 1}
    assert lost["cve"]["id"] in report.examples[0] and "f.json.gz" in report.examples[0]


def test_rejected_description_marks_the_status(tmp_path: Path, nvd_feeds: dict[str, Any]) -> None:
    item = copy.deepcopy(nvd_feeds["nvdcve-2.0-2024.json.gz"][0])
    assert "vulnStatus" not in item["cve"]
    for d in item["cve"]["descriptions"]:
        d["value"] = "** REJECT ** DO NOT USE THIS CANDIDATE NUMBER."
    (record,) = good(list(read(write(tmp_path / "f.json", feed_bytes([item])))))
    assert record.status == "Rejected"


def test_bad_records_do_not_stop_the_stream(tmp_path: Path, nvd_items: list[Any]) -> None:
    items: list[Any] = [nvd_items[0], "not an object", {"cve": {"descriptions": []}}, nvd_items[1]]
    dated = copy.deepcopy(nvd_items[2])
    dated["cve"]["published"] = "yesterday"
    items.append(dated)
    report = IngestReport()
    out = list(read(write(tmp_path / "f.json", feed_bytes(items)), report=report))
    assert [type(o).__name__ for o in out] == [
        "CveRecord",
        "RecordError",
        "RecordError",
        "CveRecord",
        "RecordError",
    ]
    assert report.reasons == {"record is not an object": 1, "missing id": 1, "invalid date": 1}
    assert out[4].id == dated["cve"]["id"] and "yesterday" in str(out[4])


def test_truncated_gzip_is_an_input_error_after_the_good_records(
    tmp_path: Path, nvd_feeds: dict[str, Any]
) -> None:
    items = nvd_feeds["nvdcve-2.0-1999.json.gz"]
    whole = gzip.compress(feed_bytes(items))
    path = tmp_path / "cut.json.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    assert detect_format(path) is InputFormat.NVD  # the damage is past the first MiB
    seen: list[Any] = []
    with pytest.raises(InputError, match="truncated gzip stream") as caught:
        seen.extend(read(path))
    assert 0 < len(seen) < len(items) and all(isinstance(r, CveRecord) for r in seen)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message


def test_truncated_gzip_noticed_at_detection(tmp_path: Path, nvd_items: list[Any]) -> None:
    whole = gzip.compress(feed_bytes(nvd_items[:3]))
    path = tmp_path / "cut.json.gz"
    path.write_bytes(whole[:-20])
    with pytest.raises(InputError, match="truncated gzip stream"):
        detect_format(path)


def test_corrupt_gzip(tmp_path: Path, nvd_items: list[Any]) -> None:
    data = bytearray(gzip.compress(feed_bytes(nvd_items[:20])))
    data[len(data) // 2 : len(data) // 2 + 40] = b"\x00" * 40
    path = tmp_path / "bad.json.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="gzip"):
        list(read(path))


def test_malformed_json_names_the_file_and_the_record(tmp_path: Path, nvd_items: list[Any]) -> None:
    data = feed_bytes(nvd_items[:10])
    third = data.index(json.dumps(nvd_items[3], separators=(",", ":")).encode())
    path = write(tmp_path / "bad.json", data[:third] + b"{oops" + data[third + 5 :])
    seen: list[Any] = []
    with pytest.raises(InputError, match="malformed JSON after record") as caught:
        seen.extend(read(path))
    assert [r.id for r in seen] == [i["cve"]["id"] for i in nvd_items[:3]]
    assert "(record #3)" in str(caught.value) and nvd_items[2]["cve"]["id"] in str(caught.value)


def test_plain_feed_cut_short(tmp_path: Path, nvd_items: list[Any]) -> None:
    data = feed_bytes(nvd_items[:10])
    path = write(tmp_path / "short.json", data[: len(data) - 100])
    with pytest.raises(InputError, match="malformed JSON"):
        list(read(path))


def test_feed_with_another_format_field_is_not_nvd(tmp_path: Path, nvd_items: list[Any]) -> None:
    path = write(tmp_path / "f.json", feed_bytes(nvd_items[:2], format="OTHER"))
    with pytest.raises(InputError, match=r"format 'OTHER'.*supported: NVD schema 2\.0"):
        detect_format(path)


def test_compression_is_recognised_by_content(tmp_path: Path, nvd_items: list[Any]) -> None:
    gzipped = tmp_path / "feed.json"
    gzipped.write_bytes(gzip.compress(feed_bytes(nvd_items[:5])))
    plain = tmp_path / "feed.json.gz"
    plain.write_bytes(feed_bytes(nvd_items[:5]))
    assert list(read(gzipped)) == list(read(plain)) and len(list(read(plain))) == 5
