"""``vulntax ingest check`` end to end, on slices of real records; whole-file totals."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from slices import english, feed_bytes, jsonl_bytes, write

from vulntax.ingest import IngestReport, read, read_records


def vulntax(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "vulntax", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture
def inputs(tmp_path: Path, nvd_items: list[Any]) -> list[Path]:
    broken = [{"id": i["cve"]["id"], "description": english(i)} for i in nvd_items[:6]]
    broken[1] = {"id": "CVE-0000-0001"}
    return [
        write(tmp_path / "feed.json.gz", feed_bytes(nvd_items[:12])),
        write(tmp_path / "plain.jsonl", jsonl_bytes(broken)),
    ]


def test_check_json(inputs: list[Path]) -> None:
    out = vulntax("ingest", "check", "--json", *map(str, inputs))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert [(f["format"], f["records"], f["skipped"]) for f in result["files"]] == [
        ("nvd", 12, 0),
        ("jsonl", 5, 1),
    ]
    assert result["files"][1]["skip_reasons"] == {"missing description": 1}
    assert "CVE-0000-0001" in result["files"][1]["skip_examples"][0]
    assert (result["records"], result["skipped"]) == (17, 1)


def test_check_table(inputs: list[Path]) -> None:
    out = vulntax("ingest", "check", *map(str, inputs))
    assert out.returncode == 0, out.stderr
    assert "feed.json.gz" in out.stdout and "missing description: 1" in out.stdout
    assert "total" in out.stdout and "(record CVE-0000-0001): missing description" in out.stdout


def test_check_fails_on_a_broken_file(inputs: list[Path], tmp_path: Path) -> None:
    whole = inputs[0].read_bytes()
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    out = vulntax("ingest", "check", str(inputs[1]), str(cut))
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith(f"error: {cut}: truncated gzip stream")
    assert out.stderr.count("\n") == 1


def test_cve5_file_matches_the_readme_count(data_dir: Path) -> None:
    """data/README.md: 43,755 CVE JSON 5 records (104 of them REJECTED, counted by state)."""
    report = IngestReport()
    for _ in read(data_dir / "cve5", report=report):
        pass
    assert report.records + report.skipped == 43_755
    assert report.reasons == {"rejected CVE (no description)": 104}


@pytest.mark.skipif(
    not os.environ.get("VULNTAX_FULL_DATA"), reason="set VULNTAX_FULL_DATA=1 (~17 s)"
)
def test_all_nvd_feeds_match_the_readme_count(data_dir: Path) -> None:
    """data/README.md: 166,524 NVD records; 87,601 with a v3.x vector; 119,162 with a CWE-n."""
    report = IngestReport()
    with_v3 = with_cwe = 0
    for record in read_records(data_dir / "nvd", report):
        with_v3 += any(label.version in ("3.0", "3.1") for label in record.cvss)
        with_cwe += any(cwe.startswith("CWE-") for cwe in record.cwe_ids())
    assert (report.records, report.skipped, len(report.files)) == (166_524, 0, 26)
    assert (with_v3, with_cwe) == (87_601, 119_162)


def test_rejected_count_is_the_state_count(data_dir: Path) -> None:
    """Cross-check the 104 above on the raw file, independently of the reader."""
    path = data_dir / "cve5" / "vulnrichment-2024-10-24.jsonl.gz"
    with gzip.open(path, "rb") as lines:
        assert (
            sum(b'"state": "REJECTED"' in line or b'"state":"REJECTED"' in line for line in lines)
            == 104
        )
