"""The CWE → CAPEC → ATT&CK graph built from MITRE's links."""

from __future__ import annotations

from vulntax.taxonomy import Catalog


def test_cwe_to_capec_unites_both_sources(catalog: Catalog) -> None:
    graph = catalog.graph
    assert graph.cwe_to_capec("CWE-89") == (
        "CAPEC-7",
        "CAPEC-66",
        "CAPEC-108",
        "CAPEC-109",
        "CAPEC-110",
        "CAPEC-470",
    )
    for entry in catalog.cwe:
        linked = set(graph.cwe_to_capec(entry.id))
        from_xml = {p for p in entry.related_capec if p in catalog.capec}
        from_capec = {p.id for p in catalog.capec if entry.id in p.related_cwes}
        assert linked == from_xml | from_capec


def test_only_direct_links_count(catalog: Catalog) -> None:
    graph = catalog.graph
    assert graph.cwe_to_capec("CWE-787") == ()  # none of its own, though its parents have some
    assert graph.cwe_to_capec("CWE-119")
    assert "CAPEC-66" not in graph.cwe_to_capec("CWE-74")  # a child's pattern does not rise


def test_capec_to_attack_resolves_revoked_and_drops_foreign_ids(catalog: Catalog) -> None:
    graph = catalog.graph
    assert graph.capec_to_attack(1) == ("T1574.010",)
    assert graph.capec_to_attack(641) == ("T1574.001",)  # CAPEC wrote the revoked T1574.002
    assert graph.capec_to_attack(648) == ("T1113",)  # T1513 is Mobile ATT&CK
    assert graph.dropped == ["CAPEC-648 -> T1513: not an Enterprise technique in ATT&CK 18.1"]
    assert graph.capec_to_attack(66) == ()


def test_cwe_to_attack_goes_through_capec(catalog: Catalog) -> None:
    graph = catalog.graph
    for cwe_id in ("CWE-287", "CWE-732", "CWE-400", "CWE-79"):
        through = {t for p in graph.cwe_to_capec(cwe_id) for t in graph.capec_to_attack(p)}
        assert set(graph.cwe_to_attack(cwe_id)) == through
    assert graph.cwe_to_attack(400) == ("T1499",)


def test_reverse_maps_mirror_the_forward_ones(catalog: Catalog) -> None:
    graph = catalog.graph
    assert "CWE-89" in graph.capec_to_cwe(66)
    assert "CAPEC-641" in graph.attack_to_capec("T1574.001")
    assert graph.attack_to_capec("T1574.002") == graph.attack_to_capec("T1574.001")
    assert "CWE-400" in graph.attack_to_cwe("T1499")
    for entry in catalog.cwe:
        for pattern in graph.cwe_to_capec(entry.id):
            assert entry.id in graph.capec_to_cwe(pattern)
        for technique in graph.cwe_to_attack(entry.id):
            assert entry.id in graph.attack_to_cwe(technique)
    assert graph.attack_to_cwe("T1064") == ()  # deprecated
