"""Slices of the real data for the ingest tests, cut at test time (nothing is committed).

``nvd_items`` are real ``vulnerabilities[]`` items of three small yearly feeds;
``cve5_records`` real CVE JSON 5 records picked from the vulnrichment file so
that every case the reader handles is there (rejected, no datePublished,
CISA-ADP labels, a CWE named only in a problem-type description, "en-US").
``slices.py`` wraps them the way each format ships.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Item = dict[str, Any]

NVD_FILES = ("nvdcve-2.0-1999.json.gz", "nvdcve-2.0-2003.json.gz", "nvdcve-2.0-2024.json.gz")
CISA_ADP_ORG = "134c704f-9b21-4f2e-91b3-4a467353bcc0"


def _load_feed(path: Path) -> list[Item]:
    with gzip.open(path, "rb") as stream:
        return json.load(stream)["vulnerabilities"]


@pytest.fixture(scope="session")
def nvd_feeds(data_dir: Path) -> dict[str, list[Item]]:
    """All items of three small real feeds (1999: vulnStatus, ADP; 2003: CNA; 2024: none)."""
    return {name: _load_feed(data_dir / "nvd" / name) for name in NVD_FILES}


@pytest.fixture(scope="session")
def nvd_items(nvd_feeds: dict[str, list[Item]]) -> list[Item]:
    """A mixed slice: 20 items of each feed, plus every item with a non-NVD source."""
    chosen: list[Item] = []
    for items in nvd_feeds.values():
        chosen += items[:20]
        chosen += [item for item in items[20:] if _sources(item) - {"nvd@nist.gov"}]
    return chosen


def _sources(item: Item) -> set[str]:
    cve = item["cve"]
    found = {w.get("source") for w in cve.get("weaknesses", [])}
    found |= {m.get("source") for ms in cve.get("metrics", {}).values() for m in ms}
    return found


@pytest.fixture(scope="session")
def cve5_records(data_dir: Path) -> dict[str, Item]:
    """Real CVE JSON 5 records, one per case, by case name (scans the file until all found)."""
    wanted: dict[str, Callable[[Item], bool]] = {
        "plain": lambda r: (
            r["cveMetadata"]["state"] == "PUBLISHED" and "datePublished" in r["cveMetadata"]
        ),
        "rejected": lambda r: r["cveMetadata"]["state"] == "REJECTED",
        "no_date_published": lambda r: (
            r["cveMetadata"]["state"] == "PUBLISHED" and "datePublished" not in r["cveMetadata"]
        ),
        "adp_cvss": lambda r: any(
            a["providerMetadata"].get("shortName") == "CISA-ADP"
            and any("cvssV3_1" in m for m in a.get("metrics", []))
            for a in r["containers"].get("adp", [])
        ),
        "cwe_in_text": lambda r: any(
            "cweId" not in d and d.get("description", "").startswith("CWE-")
            for p in r["containers"].get("cna", {}).get("problemTypes", [])
            for d in p.get("descriptions", [])
        ),
        "en_us": lambda r: (
            any(
                d.get("lang") == "en-US"
                for d in r["containers"].get("cna", {}).get("descriptions", [])
            )
            and not any(
                d.get("lang") == "en"
                for d in r["containers"].get("cna", {}).get("descriptions", [])
            )
        ),
        "cna_cvss": lambda r: any(
            "cvssV3_1" in m for m in r["containers"].get("cna", {}).get("metrics", [])
        ),
    }
    found: dict[str, Item] = {}
    path = data_dir / "cve5" / "vulnrichment-2024-10-24.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            for case, test in wanted.items():
                if case not in found and test(record):
                    found[case] = record
            if len(found) == len(wanted):
                return found
    raise AssertionError(f"cases not found in {path}: {set(wanted) - set(found)}")
