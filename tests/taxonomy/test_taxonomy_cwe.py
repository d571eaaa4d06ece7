"""The CWE catalog read from MITRE's real XML: entries, View 1000, display paths."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from vulntax.errors import CatalogError
from vulntax.taxonomy import Catalog, CweCatalog
from vulntax.taxonomy.cwe import Edge
from vulntax.taxonomy.cwe_xml import parse_cwe_xml

PILLARS = (
    "CWE-284",
    "CWE-435",
    "CWE-664",
    "CWE-682",
    "CWE-691",
    "CWE-693",
    "CWE-697",
    "CWE-703",
    "CWE-707",
    "CWE-710",
)


def test_catalog_size_and_version(catalog: Catalog) -> None:
    cwe = catalog.cwe
    assert cwe.version == "4.14"
    kinds = [e.kind for e in cwe]
    assert (kinds.count("weakness"), kinds.count("category"), kinds.count("view")) == (963, 409, 54)
    assert len(cwe) == 1426


def test_cwe_79_entry(catalog: Catalog) -> None:
    entry = catalog.cwe.get("cwe-79")
    assert entry.name.startswith("Improper Neutralization of Input During Web Page Generation")
    assert (entry.kind, entry.abstraction, entry.status, entry.usage) == (
        "weakness",
        "Base",
        "Stable",
        "Allowed",
    )
    assert entry.in_view_1003
    assert "CAPEC-63" in entry.related_capec and "CAPEC-591" in entry.related_capec


def test_cwe_79_path_and_relations(catalog: Catalog) -> None:
    cwe = catalog.cwe
    assert cwe.path("CWE-79") == ("CWE-707", "CWE-74", "CWE-79")
    assert cwe.parents(79) == ("CWE-74",)
    assert "CWE-80" in cwe.children(79) and "CWE-79" in cwe.children(74)
    assert cwe.ancestors(79) == frozenset({"CWE-74", "CWE-707"})
    assert "CWE-80" in cwe.descendants(79) and "CWE-79" in cwe.descendants(707)
    assert cwe.in_view_1000(79)


def test_roots_are_the_ten_pillars(catalog: Catalog) -> None:
    assert catalog.cwe.roots() == PILLARS
    for root in PILLARS:
        assert catalog.cwe.get(root).abstraction == "Pillar"
        assert catalog.cwe.path(root) == (root,)


def test_dag_node_with_two_parents_follows_the_primary_edge(catalog: Catalog) -> None:
    cwe = catalog.cwe
    assert cwe.parents(732) == ("CWE-285", "CWE-668")  # primary first
    assert cwe.path(732) == ("CWE-284", "CWE-285", "CWE-732")
    assert cwe.ancestors(732) >= {"CWE-285", "CWE-668", "CWE-284", "CWE-664"}
    several = [e.id for e in cwe if len(cwe.parents(e.id)) > 1]
    assert len(several) == 140  # 132 with two parents, 8 with three (CWE 4.14)


def test_every_display_path_is_a_valid_path_ending_in_its_node(catalog: Catalog) -> None:
    cwe = catalog.cwe
    members = [e.id for e in cwe if cwe.in_view_1000(e.id)]
    assert len(members) == 938  # every weakness that is not deprecated
    for node in members:
        path = cwe.path(node)
        assert path[-1] == node and cwe.is_path(path)
        if len(path) > 1:  # paths agree with each other
            assert path[:-1] == cwe.path(path[-2])
            assert path[-2] == cwe.primary_parent(node)


def test_entries_outside_view_1000_have_no_path(catalog: Catalog) -> None:
    cwe = catalog.cwe
    for outside in ("CWE-310", "CWE-264", "CWE-1003", "CWE-1187"):  # categories, view, deprecated
        assert cwe.path(outside) == ()
        assert not cwe.in_view_1000(outside)
        assert cwe.parents(outside) == ()


def test_is_path(catalog: Catalog) -> None:
    cwe = catalog.cwe
    assert cwe.is_path(["CWE-707", "CWE-74", "CWE-79"])
    assert cwe.is_path([707, "74", "cwe-79"])
    assert cwe.is_path(["CWE-664", "CWE-668", "CWE-732"])  # a non-primary edge is still an edge
    assert cwe.is_path(["CWE-707"])
    assert not cwe.is_path([])
    assert not cwe.is_path(["CWE-74", "CWE-79"])  # does not start at a root
    assert not cwe.is_path(["CWE-707", "CWE-79"])  # skips a level
    assert not cwe.is_path(["CWE-707", "CWE-79", "CWE-74"])  # wrong direction
    assert not cwe.is_path(["CWE-707", "CWE-74", "CWE-99999"])  # unknown id
    assert not cwe.is_path(["NVD-CWE-Other"])


def test_is_related(catalog: Catalog) -> None:
    cwe = catalog.cwe
    assert cwe.is_related(79, 79)
    assert cwe.is_related("CWE-74", "CWE-79") and cwe.is_related("CWE-79", "CWE-707")
    assert cwe.is_related(668, 732)
    assert not cwe.is_related(79, 89)  # siblings under CWE-74


def test_nearest_allowed(catalog: Catalog) -> None:
    cwe = catalog.cwe
    assert cwe.nearest_allowed(79) == "CWE-79"
    assert cwe.nearest_allowed(732) == "CWE-732"  # Allowed-with-Review
    assert cwe.nearest_allowed(391) == "CWE-754"
    for discouraged in (119, 20, 200, 707):
        assert cwe.nearest_allowed(discouraged) is None
    assert cwe.nearest_allowed(310) is None  # a category


def test_view_1003_membership_uses_both_lists(catalog: Catalog) -> None:
    cwe = catalog.cwe
    assert sum(e.in_view_1003 for e in cwe) == 130
    assert cwe.get(20).in_view_1003  # listed in View 1003's Members
    assert cwe.get(79).in_view_1003  # via Related_Weakness View_ID="1003"
    assert not cwe.get(80).in_view_1003
    assert not cwe.get(310).in_view_1003


def test_mapping_notes_suggestions_in_order(catalog: Catalog) -> None:
    assert catalog.cwe.get(287).suggestions == ("CWE-1390", "CWE-306")
    assert catalog.cwe.get(20).suggestions[0] == "CWE-1284"
    assert catalog.cwe.get(20).suggestions[-1] == "CWE-116"


def test_members_of_categories_and_views(catalog: Catalog) -> None:
    cwe = catalog.cwe
    assert cwe.get(310).members[:2] == ("CWE-261", "CWE-324")
    assert cwe.get(264).members == ()  # obsolete category, emptied by MITRE
    assert "CWE-79" not in cwe.get(1000).members and "CWE-707" in cwe.get(1000).members


@pytest.mark.parametrize(
    ("deprecated", "replacement"),
    [
        ("CWE-1187", "CWE-908"),
        ("CWE-71", "CWE-62"),
        ("CWE-596", "CWE-1023"),
        ("CWE-376", "CWE-1219"),  # names CWE-1219 and the view CWE-699: views never replace
        ("CWE-217", None),  # names two weaknesses
        ("CWE-216", None),  # names none
        ("CWE-1", None),  # names only the view CWE-699
        ("CWE-999", None),
    ],  # a view naming the view CWE-888
)
def test_replaced_by(catalog: Catalog, deprecated: str, replacement: str | None) -> None:
    entry = catalog.cwe.get(deprecated)
    assert entry.deprecated
    assert entry.replaced_by == replacement


def test_a_cycle_is_a_catalog_error(catalog: Catalog) -> None:
    real = catalog.cwe
    edges = [*real.edges, Edge("CWE-707", "CWE-79", True)]  # Pillar 707 made a child of 79
    roots = [r for r in real.roots() if r != "CWE-707"]
    looped = CweCatalog("4.14-looped", real.entries(), edges, roots)
    with pytest.raises(CatalogError, match="cycle"):
        looped.path(79)


def test_an_edge_to_an_unknown_entry_is_a_catalog_error(catalog: Catalog) -> None:
    real = catalog.cwe
    with pytest.raises(CatalogError, match="CWE-99999"):
        CweCatalog("x", real.entries(), [*real.edges, Edge("CWE-79", "CWE-99999", False)], [])


def test_a_reference_to_an_unknown_entry_is_a_catalog_error(catalog: Catalog) -> None:
    entries = [
        dataclasses.replace(e, replaced_by="CWE-99999") if e.id == "CWE-1187" else e
        for e in catalog.cwe.entries()
    ]
    with pytest.raises(CatalogError, match="CWE-1187 refers to CWE-99999"):
        CweCatalog("x", entries, catalog.cwe.edges, catalog.cwe.roots())


def test_unreadable_or_foreign_xml_is_a_catalog_error(tmp_path: Path) -> None:
    broken = tmp_path / "cwec_v9.9.xml"
    broken.write_text("<Weakness_Catalog><unclosed>")
    with pytest.raises(CatalogError, match="not a readable CWE XML"):
        parse_cwe_xml(broken)
    foreign = tmp_path / "cwec_v9.8.xml"
    foreign.write_text('<?xml version="1.0"?><catalog Version="1"/>')
    with pytest.raises(CatalogError, match="not a CWE catalog"):
        parse_cwe_xml(foreign)
    not_zip = tmp_path / "cwec_v9.7.xml.zip"
    not_zip.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CatalogError, match="cannot read"):
        parse_cwe_xml(not_zip)


def test_entity_expansion_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "cwec_v9.9.xml"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<Weakness_Catalog xmlns="http://cwe.mitre.org/cwe-7" Version="1">&b;</Weakness_Catalog>'
    )
    with pytest.raises(CatalogError):
        parse_cwe_xml(bomb)
