from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def nvd_2021(data_dir: Path) -> list[dict]:
    """The raw NVD 2021 feed's vulnerabilities (real records, read once per session)."""
    with gzip.open(data_dir / "nvd" / "nvdcve-2.0-2021.json.gz", "rt", encoding="utf-8") as handle:
        return json.load(handle)["vulnerabilities"]


@pytest.fixture(scope="session")
def descriptions(nvd_2021: list[dict]) -> list[str]:
    return [
        next(d["value"] for d in v["cve"]["descriptions"] if d["lang"] == "en")
        for v in nvd_2021[:4000]
    ]


@pytest.fixture(scope="session")
def catalog(data_dir: Path):
    from vulntax.taxonomy import load_catalog

    return load_catalog(data_dir)
