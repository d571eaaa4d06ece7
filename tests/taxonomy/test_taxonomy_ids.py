"""Spelling of ids: what normalize accepts and what it refuses."""

from __future__ import annotations

import pytest

from vulntax.errors import UnknownIdError
from vulntax.taxonomy import Catalog
from vulntax.taxonomy.ids import numbered_id, tactic_id, technique_id


@pytest.mark.parametrize("raw", [79, "79", "CWE-79", "cwe-79", " CWE-079 ", "CWE79", "\tcwe-79\n"])
def test_cwe_normalize_accepts_usual_spellings(catalog: Catalog, raw: str | int) -> None:
    assert catalog.cwe.normalize(raw) == "CWE-79"


@pytest.mark.parametrize(
    "raw",
    [
        "NVD-CWE-Other",
        "NVD-CWE-noinfo",
        "nvd-cwe-other",
        "",
        "CWE-",
        "CWE-7x9",
        "CAPEC-79",
        "CWE--79",
        "79.0",
        -79,
        True,
        None,
        79.0,
    ],
)
def test_cwe_normalize_refuses_malformed_ids(catalog: Catalog, raw: object) -> None:
    with pytest.raises(UnknownIdError):
        catalog.cwe.normalize(raw)  # type: ignore[arg-type]


def test_unknown_cwe_message_names_the_id_and_the_catalog(catalog: Catalog) -> None:
    with pytest.raises(UnknownIdError, match=r"CWE-99999 is not defined in CWE 4\.14"):
        catalog.cwe.get(99999)


def test_placeholder_message_says_it_is_a_placeholder(catalog: Catalog) -> None:
    with pytest.raises(UnknownIdError, match="NVD placeholder"):
        catalog.cwe.normalize("NVD-CWE-noinfo")


def test_contains_never_raises(catalog: Catalog) -> None:
    assert "CWE-79" in catalog.cwe and 79 in catalog.cwe
    assert "NVD-CWE-Other" not in catalog.cwe
    assert None not in catalog.cwe
    assert "CWE-99999" not in catalog.cwe


def test_numbered_id_forms() -> None:
    assert numbered_id("capec-066", "CAPEC") == "CAPEC-66"
    assert numbered_id(0, "CWE") == "CWE-0"
    with pytest.raises(UnknownIdError):
        numbered_id("CWE-66", "CAPEC")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("T1059", "T1059"),
        (" t1059.001 ", "T1059.001"),
        ("T1059/001", "T1059.001"),
        ("T1078.003.", "T1078.003"),
        ("T1190.", "T1190"),
    ],
)
def test_technique_id_forms(raw: str, expected: str) -> None:
    assert technique_id(raw) == expected


@pytest.mark.parametrize("raw", ["", "1059", "TT1565", "T1190. T1005", "T1059.0001", "TA0001"])
def test_technique_id_refuses(raw: str) -> None:
    with pytest.raises(UnknownIdError):
        technique_id(raw)


def test_tactic_id_forms() -> None:
    assert tactic_id("ta1") == "TA0001"
    with pytest.raises(UnknownIdError):
        tactic_id("T0001")
