"""The dataset label policy, rule by rule, on real CWE ids."""

from __future__ import annotations

import dataclasses

import pytest

from vulntax.errors import CatalogError
from vulntax.taxonomy import Catalog, CweCatalog
from vulntax.taxonomy.labels import RULES


@pytest.mark.parametrize(
    ("raw", "mapped", "rule"),
    [
        ("NVD-CWE-Other", None, "placeholder"),
        ("NVD-CWE-noinfo", None, "placeholder"),
        (" nvd-cwe-noinfo ", None, "placeholder"),
        ("CWE-99999", None, "unknown"),
        ("not a cwe", None, "unknown"),
        ("", None, "unknown"),
        ("CWE-79", "CWE-79", "allowed"),
        ("cwe-079", "CWE-79", "allowed"),
        ("CWE-732", "CWE-732", "allowed"),  # Allowed-with-Review
        ("CWE-1187", "CWE-908", "deprecated>allowed"),
        ("CWE-216", None, "deprecated-unmapped"),
        ("CWE-264", None, "category-unmapped"),  # obsolete category without members
        ("CWE-310", None, "category-unmapped"),  # members span several pillars
        ("CWE-387", "CWE-364", "category>allowed"),  # members share CWE-364
        ("CWE-137", "CWE-707", "category>kept-discouraged"),
        ("CWE-376", "CWE-664", "deprecated>category>kept-discouraged"),
        ("CWE-1003", None, "category-unmapped"),  # a view
        ("CWE-119", "CWE-119", "kept-discouraged"),
        ("CWE-20", "CWE-20", "kept-discouraged"),
        ("CWE-200", "CWE-200", "kept-discouraged"),
        ("CWE-391", "CWE-754", "nearest-allowed"),  # Prohibited, three suggestions
    ],
)
def test_map_label_rules(catalog: Catalog, raw: str, mapped: str | None, rule: str) -> None:
    result = catalog.cwe.map_label(raw)
    assert (result.raw, result.mapped, result.rule) == (raw, mapped, rule)
    assert result.final_rule == rule.rsplit(">", 1)[-1]


def test_every_catalog_id_maps_to_a_current_weakness_or_none(catalog: Catalog) -> None:
    cwe = catalog.cwe
    for entry in cwe:
        result = cwe.map_label(entry.id)
        assert set(result.rule.split(">")) <= set(RULES)
        if result.mapped is not None:
            target = cwe.get(result.mapped)
            assert target.kind == "weakness" and not target.deprecated
            assert cwe.in_view_1000(target.id)


def _with_suggestions(cwe: CweCatalog, changes: dict[str, tuple[str, ...]]) -> CweCatalog:
    entries = [
        dataclasses.replace(e, suggestions=changes[e.id]) if e.id in changes else e
        for e in cwe.entries()
    ]
    return CweCatalog(cwe.version, entries, cwe.edges, cwe.roots())


def test_a_single_suggestion_is_followed(catalog: Catalog) -> None:
    # CWE 4.14 has no Discouraged weakness or category with exactly one suggestion;
    # give real entries one to exercise the rule.
    changed = _with_suggestions(catalog.cwe, {"CWE-391": ("CWE-252",), "CWE-310": ("CWE-327",)})
    assert changed.map_label("CWE-391").mapped == "CWE-252"
    assert changed.map_label("CWE-391").rule == "suggestion>allowed"
    assert changed.map_label("CWE-310").mapped == "CWE-327"
    assert changed.map_label("CWE-310").rule == "category>allowed"


def test_a_suggestion_loop_is_a_catalog_error(catalog: Catalog) -> None:
    looped = _with_suggestions(catalog.cwe, {"CWE-20": ("CWE-119",), "CWE-119": ("CWE-20",)})
    with pytest.raises(CatalogError, match="loops"):
        looped.map_label("CWE-20")
