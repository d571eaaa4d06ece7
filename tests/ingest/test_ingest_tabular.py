"""JSONL and CSV inputs built from real NVD descriptions; detection and folder reading."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from slices import csv_bytes, english, feed_bytes, jsonl_bytes, write

from vulntax.errors import InputError, UsageError
from vulntax.ingest import IngestReport, InputFormat, check, detect_format, read, read_records
from vulntax.records import CveRecord, RecordError


@pytest.fixture(scope="module")
def rows(nvd_feeds: dict[str, Any]) -> list[tuple[str, str]]:
    """(id, description) of real 2024 records, multi-line descriptions among them."""
    pairs = [(i["cve"]["id"], english(i)) for i in nvd_feeds["nvdcve-2.0-2024.json.gz"]]
    multi_line = [pair for pair in pairs if "\n" in pair[1]]
    assert multi_line
    return pairs[:30] + multi_line[:5]


def test_jsonl(tmp_path: Path, rows: list[tuple[str, str]]) -> None:
    values: list[Any] = [{"ID": rid, "Description": text, "cwe": "ignored"} for rid, text in rows]
    values[3] = {"id": rows[3][0]}  # no description
    values[5] = {"description": rows[5][1]}  # no id
    values[7] = ["not", "an", "object"]
    data = jsonl_bytes(values).replace(b"\n", b"\n\n", 1) + b'{"id": "x", "description": \n'
    path = write(tmp_path / "in.jsonl", data)
    assert detect_format(path) is InputFormat.JSONL
    report = IngestReport()
    out = list(read(path, report=report))
    good = [o for o in out if isinstance(o, CveRecord)]
    assert [(r.id, r.description) for r in good] == [
        p for n, p in enumerate(rows) if n not in (3, 5, 7)
    ]
    assert all(r.origin is InputFormat.JSONL for r in good)
    assert report.reasons == {
        "missing description": 1,
        "missing id": 1,
        "record is not an object": 1,
        "invalid JSON line": 1,
    }
    bad = {o.reason: o for o in out if isinstance(o, RecordError)}
    assert bad["missing description"].id == rows[3][0]
    assert bad["invalid JSON line"].index == len(rows) + 1  # 0-based line, the blank line counts


@pytest.mark.parametrize("name", ["in.csv", "in.csv.gz", "no-suffix"])
def test_csv_multiline_quoted_fields_and_bom(
    tmp_path: Path, rows: list[tuple[str, str]], name: str
) -> None:
    table = [[f"x{n}", rid, text] for n, (rid, text) in enumerate(rows)]
    table[2][2] = ""
    path = write(tmp_path / name, csv_bytes(["Extra", " Id ", "DESCRIPTION"], table, bom=True))
    assert detect_format(path) is InputFormat.CSV
    report = IngestReport()
    out = list(read(path, report=report))
    assert [(r.id, r.description) for r in out if isinstance(r, CveRecord)] == rows[:2] + rows[3:]
    assert report.reasons == {"missing description": 1}
    assert out[2].id == rows[2][0] and out[2].index == 2  # type: ignore[union-attr]


def test_csv_without_description_column(tmp_path: Path, rows: list[tuple[str, str]]) -> None:
    path = write(tmp_path / "in.csv", csv_bytes(["id", "summary"], [list(r) for r in rows]))
    with pytest.raises(InputError, match="lacks the 'description' column") as caught:
        list(read(path))
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_csv_that_is_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "id,description\nCVE-1,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        list(read(path))


def test_wrong_schema_json(tmp_path: Path, data_dir: Path) -> None:
    with gzip.open(data_dir / "catalogs" / "stix-capec-3.9.json.gz", "rt") as stream:
        bundle = json.load(stream)
    bundle["objects"] = bundle["objects"][:3]
    path = write(tmp_path / "capec.json", json.dumps(bundle, indent=2).encode())
    with pytest.raises(InputError, match=r"unrecognised input.*'objects'.*supported:") as caught:
        list(read(path))
    assert "\n" not in str(caught.value)
    array = write(tmp_path / "array.json", json.dumps(bundle["objects"]).encode())
    with pytest.raises(InputError, match="JSON array"):
        detect_format(array)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "file is empty"), (b"\n \n", "file is empty"), (b"hello world\n", "unrecognised input")],
)
def test_unreadable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = write(tmp_path / "in.txt", content)
    with pytest.raises(InputError, match=message):
        detect_format(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        list(read(tmp_path / "nope.json"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no input files"):
        list(read(tmp_path / "empty"))


def test_format_assertion(tmp_path: Path, rows: list[tuple[str, str]]) -> None:
    path = write(tmp_path / "in.csv", csv_bytes(["id", "description"], [list(r) for r in rows]))
    assert len(list(read(path, fmt="csv"))) == len(rows)
    with pytest.raises(InputError, match="expected nvd input, but the file holds csv"):
        list(read(path, fmt=InputFormat.NVD))
    with pytest.raises(UsageError, match="unknown input format"):
        list(read(path, fmt="xml"))


def test_mixed_folder_reads_every_file(
    tmp_path: Path, rows: list[tuple[str, str]], nvd_items: list[Any]
) -> None:
    write(tmp_path / "a.csv", csv_bytes(["id", "description"], [list(r) for r in rows[:5]]))
    write(tmp_path / "b.json.gz", feed_bytes(nvd_items[:4]))
    write(
        tmp_path / "sub" / "c.jsonl",
        jsonl_bytes([{"id": r, "description": t} for r, t in rows[5:8]]),
    )
    write(tmp_path / "LICENSE", b"not an input")
    with pytest.raises(InputError, match="mixes formats"):
        detect_format(tmp_path)
    report = IngestReport()
    ids = [r.id for r in read_records(tmp_path, report)]
    assert ids == [r for r, _ in rows[:5]] + [i["cve"]["id"] for i in nvd_items[:4]] + [
        r for r, _ in rows[5:8]
    ]
    assert report.records == 12 and [Path(f).name for f in report.files] == [
        "a.csv",
        "b.json.gz",
        "c.jsonl",
    ]
    checks = check([tmp_path])
    assert [(Path(c.path).name, c.format, c.report.records) for c in checks] == [
        ("a.csv", InputFormat.CSV, 5),
        ("b.json.gz", InputFormat.NVD, 4),
        ("c.jsonl", InputFormat.JSONL, 3),
    ]
