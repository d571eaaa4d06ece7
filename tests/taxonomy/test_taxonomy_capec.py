"""The CAPEC catalog read from MITRE's real STIX bundle."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from vulntax.errors import CatalogError, UnknownIdError
from vulntax.taxonomy import Catalog
from vulntax.taxonomy.capec import parse_capec_stix


def test_version_and_counts(catalog: Catalog) -> None:
    capec = catalog.capec
    assert capec.version == "3.9"
    assert len(capec.entries(include_deprecated=True)) == 615
    assert len(capec) == 559  # 56 deprecated patterns are skipped


def test_capec_66(catalog: Catalog) -> None:
    entry = catalog.capec.get("capec-66")
    assert entry.name == "SQL Injection"
    assert (entry.abstraction, entry.status, entry.deprecated) == ("Standard", "Draft", False)
    assert entry.parents == ("CAPEC-248",)
    assert entry.related_cwes == ("CWE-89", "CWE-1286")
    assert entry.url == "https://capec.mitre.org/data/definitions/66.html"
    assert catalog.capec.path(66) == ("CAPEC-248", "CAPEC-66")
    assert catalog.capec.get("CAPEC-248").abstraction == "Meta"


def test_attack_references_as_written(catalog: Catalog) -> None:
    assert catalog.capec.get(1).attack_techniques == ("T1574.010",)
    assert catalog.capec.get(648).attack_techniques == ("T1113", "T1513")


def test_several_parents_and_the_lowest_numbered_display_path(catalog: Catalog) -> None:
    capec = catalog.capec
    assert capec.parents(18) == ("CAPEC-588", "CAPEC-591", "CAPEC-592")
    path = capec.path(18)
    assert path[-2:] == ("CAPEC-588", "CAPEC-18") and path[0] in capec.roots()
    assert capec.ancestors(18) >= {"CAPEC-588", "CAPEC-591", "CAPEC-592", "CAPEC-63"}
    assert capec.children(63) == ("CAPEC-588", "CAPEC-591", "CAPEC-592")


def test_every_path_starts_at_a_meta_root(catalog: Catalog) -> None:
    capec = catalog.capec
    for entry in capec:
        path = capec.path(entry.id)
        assert path[-1] == entry.id
        assert capec.get(path[0]).abstraction == "Meta" and not capec.parents(path[0])


def test_deprecated_patterns_are_skipped_unless_asked(catalog: Catalog) -> None:
    capec = catalog.capec
    assert "CAPEC-56" not in capec
    with pytest.raises(UnknownIdError, match="deprecated"):
        capec.get(56)
    entry = capec.get(56, include_deprecated=True)
    assert entry.deprecated and entry.name.startswith("DEPRECATED")
    assert all(not e.deprecated for e in capec)


def test_unknown_and_malformed_ids(catalog: Catalog) -> None:
    with pytest.raises(UnknownIdError, match=r"CAPEC-99999 is not defined in CAPEC 3\.9"):
        catalog.capec.get(99999)
    with pytest.raises(UnknownIdError):
        catalog.capec.normalize("CWE-66")


def test_a_broken_bundle_is_a_catalog_error(tmp_path: Path, data_dir: Path) -> None:
    truncated = tmp_path / "stix-capec-3.9.json.gz"
    truncated.write_bytes((data_dir / "catalogs" / "stix-capec-3.9.json.gz").read_bytes()[:5000])
    with pytest.raises(CatalogError, match="cannot read the STIX bundle"):
        parse_capec_stix(truncated)
    foreign = tmp_path / "stix-capec-0.json.gz"
    foreign.write_bytes(gzip.compress(json.dumps({"type": "bundle", "objects": []}).encode()))
    with pytest.raises(CatalogError, match="no CAPEC attack patterns"):
        parse_capec_stix(foreign)
    not_stix = tmp_path / "stix-capec-1.json"
    not_stix.write_text("[1, 2, 3]")
    with pytest.raises(CatalogError, match="not a STIX bundle"):
        parse_capec_stix(not_stix)
