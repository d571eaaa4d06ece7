"""The CVSS v3 adapter: NVD's own recorded scores, the metric table, clear errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from vulntax.errors import InvalidVectorError
from vulntax.taxonomy import cvss

NVD_FILES = ("nvdcve-2.0-2016.json.gz", "nvdcve-2.0-2022.json.gz", "nvdcve-2.0-2024.json.gz")


def _nvd_vectors(path: Path) -> list[tuple[str, str, float, str]]:
    with gzip.open(path, "rb") as handle:
        feed = json.load(handle)
    found = []
    for item in feed["vulnerabilities"]:
        metrics = item["cve"].get("metrics", {})
        for key in ("cvssMetricV31", "cvssMetricV30"):
            for metric in metrics.get(key, ()):
                data = metric["cvssData"]
                found.append(
                    (
                        item["cve"]["id"],
                        data["vectorString"],
                        data["baseScore"],
                        data["baseSeverity"],
                    )
                )
    return found


@pytest.mark.parametrize("name", NVD_FILES)
def test_scores_match_nvd_recorded_scores(data_dir: Path, name: str) -> None:
    vectors = _nvd_vectors(data_dir / "nvd" / name)
    assert len(vectors) > 250
    versions = set()
    for cve_id, vector, base_score, severity in vectors:
        result = cvss.score(vector)
        assert (result.base_score, result.severity.upper()) == (base_score, severity), cve_id
        assert cvss.vector_from_metrics(result.metrics, result.version) == vector, cve_id
        versions.add(result.version)
    if name.endswith("2016.json.gz"):
        assert versions == {"3.0", "3.1"}  # NVD's 2016 records hold both versions


def test_metric_table_comes_from_the_cvss_package() -> None:
    assert cvss.BASE_METRICS == ("AV", "AC", "PR", "UI", "S", "C", "I", "A")
    assert cvss.METRIC_NAMES["AV"] == "Attack Vector"
    assert cvss.METRIC_NAMES["PR"] == "Privileges Required"
    assert cvss.metric_values("AV") == ("N", "A", "L", "P")
    assert cvss.METRIC_VALUE_NAMES["AV"]["A"] == "Adjacent"
    assert cvss.metric_values("S") == ("C", "U")
    assert cvss.metric_values("C") == ("H", "L", "N")
    with pytest.raises(InvalidVectorError, match="unknown CVSS v3 base metric 'E'"):
        cvss.metric_values("E")


def test_score_and_metrics() -> None:
    result = cvss.score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    assert (result.version, result.base_score, result.severity) == ("3.1", 9.8, "Critical")
    assert dict(result.metrics) == {
        "AV": "N",
        "AC": "L",
        "PR": "N",
        "UI": "N",
        "S": "U",
        "C": "H",
        "I": "H",
        "A": "H",
    }
    none = cvss.score("CVSS:3.0/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N")
    assert (none.version, none.base_score, none.severity) == ("3.0", 0.0, "None")


def test_metric_order_and_blanks_are_cleaned() -> None:
    result = cvss.score("  CVSS:3.1/A:H/I:H/C:H/S:U/UI:N/PR:N/AC:L/AV:N ")
    assert result.vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert list(cvss.metrics_from_vector(result.vector)) == list(cvss.BASE_METRICS)


def test_temporal_metrics_do_not_change_the_base_score() -> None:
    result = cvss.score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O")
    assert result.base_score == 9.8
    assert len(cvss.metrics_from_vector(result.vector)) == 8


def test_describe_spells_out_every_metric() -> None:
    rows = cvss.describe("CVSS:3.1/AV:A/AC:H/PR:L/UI:R/S:C/C:L/I:N/A:H")
    assert rows[0] == ("AV", "Attack Vector", "A", "Adjacent")
    assert rows[4] == ("S", "Scope", "C", "Changed")
    assert [r[0] for r in rows] == list(cvss.BASE_METRICS)


@pytest.mark.parametrize(
    ("vector", "problem"),
    [
        ("", "empty"),
        ("CVSS:3.1/AV:N", "Missing mandatory metrics"),
        ("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 'Unknown value "X"'),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1", 'Unknown metric "ZZ"'),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/A:L", "Duplicate metric"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/", "trailing"),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", "CVSS v2 vector"),
        ("CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", "CVSS 2.0 vector"),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "CVSS 4.0 vector"),
        ("AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "must start with CVSS:3.1/"),
        ("cvss:3.1/av:n/ac:l/pr:n/ui:n/s:u/c:h/i:h/a:h", "must start with CVSS:3.1/"),
        ("hello", "not a CVSS v3 vector"),
    ],
)
def test_invalid_vectors_raise_one_line_errors(vector: str, problem: str) -> None:
    with pytest.raises(InvalidVectorError) as caught:
        cvss.score(vector)
    message = str(caught.value)
    assert problem in message and "\n" not in message
    with pytest.raises(InvalidVectorError):
        cvss.metrics_from_vector(vector)


def test_invalid_metric_maps() -> None:
    good = cvss.metrics_from_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    assert cvss.vector_from_metrics(good, "3.0").startswith("CVSS:3.0/AV:N/")
    with pytest.raises(InvalidVectorError, match="missing CVSS v3 base metric"):
        cvss.vector_from_metrics({k: v for k, v in good.items() if k != "S"})
    with pytest.raises(InvalidVectorError, match="unknown CVSS v3 base metric"):
        cvss.vector_from_metrics({**good, "E": "U"})
    with pytest.raises(InvalidVectorError, match=r"AV \(Attack Vector\) cannot be 'Z'"):
        cvss.vector_from_metrics({**good, "AV": "Z"})
    with pytest.raises(InvalidVectorError, match="not a v3 version"):
        cvss.vector_from_metrics(good, "4.0")
    with pytest.raises(InvalidVectorError, match="is a string"):
        cvss.score(None)  # type: ignore[arg-type]
