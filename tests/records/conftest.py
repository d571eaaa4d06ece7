"""A tiny model with its CVSS v4.0 and metadata heads, fitted on the mini data (seconds)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def fit_report(tiny_model: Path, mini_dataset: Path, mini_data_dir: Path, tmp_path_factory):
    """(model directory with both heads, the fit report)."""
    from vulntax.models import load_model
    from vulntax.records_fit import FitSettings, fit_cvss4, fit_metadata, read_sources
    from vulntax.taxonomy import load_catalog

    out = tmp_path_factory.mktemp("tiny-heads") / "model"
    shutil.copytree(tiny_model, out)
    model = load_model(out)
    metas, v4, aliases = read_sources(mini_data_dir, log=lambda m: None)
    dates = sorted(e.published for e in v4)
    settings = FitSettings(
        v4_validation_start=dates[len(dates) * 6 // 10].isoformat(),
        v4_test_start=dates[len(dates) * 8 // 10].isoformat(),
        v4_c_grid=(0.3, 3.0),
    )
    head4, report4 = fit_cvss4(model, v4, settings, log=lambda m: None)
    catalog = load_catalog(mini_data_dir)
    headm, reportm = fit_metadata(
        model, mini_dataset, metas, catalog, settings, lambda m: None, aliases
    )
    head4.save(out)
    headm.save(out)
    return out, {"cvss4": report4, "metadata": reportm}


@pytest.fixture(scope="session")
def heads_model(fit_report) -> Path:
    return fit_report[0]


@pytest.fixture(scope="session")
def cve5_lines(mini_data_dir: Path) -> list[str]:
    """Real CVE JSON 5 records: 50 in file order, 5 with CVSS v4.0, one rejected."""
    src = mini_data_dir / "cve5" / "vulnrichment-2024-10-24.jsonl.gz"
    first, v4, rejected = [], [], []
    with gzip.open(src, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            cna = record["containers"]["cna"]
            if record["cveMetadata"]["state"] == "REJECTED":
                rejected.append(line.rstrip("\n"))
            elif len(first) < 50:
                first.append(line.rstrip("\n"))
            elif any("cvssV4_0" in m for m in cna.get("metrics", ())):
                v4.append(line.rstrip("\n"))
    return first + v4[:5] + rejected[:1]


@pytest.fixture(scope="session")
def cve5_schema() -> dict:
    import os

    import cvelib

    path = Path(os.path.dirname(cvelib.__file__)) / "schemas" / "CVE_JSON_bundled_5.1.1.json"
    return json.loads(path.read_text(encoding="utf-8"))
