"""Everything worth showing about one CWE, CAPEC or ATT&CK id, as plain JSON-ready dicts.

The ``show`` commands print these (as a panel, or as JSON with ``--json``); they
hold no logic of their own.
"""

from __future__ import annotations

from typing import Any

from vulntax.errors import UnknownIdError
from vulntax.taxonomy.catalog import Catalog


def _cwe_ref(catalog: Catalog, cwe_id: str) -> dict[str, str]:
    return {"id": cwe_id, "name": catalog.cwe.get(cwe_id).name}


def _capec_ref(catalog: Catalog, capec_id: str) -> dict[str, str]:
    return {"id": capec_id, "name": catalog.capec.get(capec_id, include_deprecated=True).name}


def _technique_ref(catalog: Catalog, technique_id: str) -> dict[str, str]:
    return {"id": technique_id, "name": catalog.attack.get(technique_id).name}


def cwe_info(catalog: Catalog, identifier: str | int) -> dict[str, Any]:
    """A CWE entry with its View-1000 place, label policy result and graph links."""
    cwe = catalog.cwe
    entry = cwe.get(identifier)
    path = cwe.path(entry.id)
    on_path = path[-2] if len(path) > 1 else None
    mapping = cwe.map_label(entry.id)
    return {
        "id": entry.id,
        "name": entry.name,
        "kind": entry.kind,
        "abstraction": entry.abstraction,
        "status": entry.status,
        "usage": entry.usage,
        "in_view_1000": cwe.in_view_1000(entry.id),
        "in_view_1003": entry.in_view_1003,
        "path": [_cwe_ref(catalog, c) for c in path],
        "other_parents": [_cwe_ref(catalog, p) for p in cwe.parents(entry.id) if p != on_path],
        "children": [_cwe_ref(catalog, c) for c in cwe.children(entry.id)],
        "replaced_by": _cwe_ref(catalog, entry.replaced_by) if entry.replaced_by else None,
        "suggestions": [_cwe_ref(catalog, s) for s in entry.suggestions],
        "members": [_cwe_ref(catalog, m) for m in entry.members],
        "label": {"mapped": mapping.mapped, "rule": mapping.rule},
        "capec": [_capec_ref(catalog, p) for p in catalog.graph.cwe_to_capec(entry.id)],
        "attack": [_technique_ref(catalog, t) for t in catalog.graph.cwe_to_attack(entry.id)],
        "catalog": catalog.versions,
    }


def capec_info(catalog: Catalog, identifier: str | int) -> dict[str, Any]:
    """A CAPEC pattern (deprecated ones too) with its hierarchy and graph links."""
    capec = catalog.capec
    entry = capec.get(identifier, include_deprecated=True)
    return {
        "id": entry.id,
        "name": entry.name,
        "abstraction": entry.abstraction,
        "status": entry.status,
        "deprecated": entry.deprecated,
        "url": entry.url,
        "path": [_capec_ref(catalog, p) for p in capec.path(entry.id)],
        "parents": [_capec_ref(catalog, p) for p in entry.parents],
        "children": [_capec_ref(catalog, c) for c in capec.children(entry.id)],
        "cwe": [_cwe_ref(catalog, c) for c in catalog.graph.capec_to_cwe(entry.id)],
        "attack": [_technique_ref(catalog, t) for t in catalog.graph.capec_to_attack(entry.id)],
        "attack_as_written": list(entry.attack_techniques),
        "catalog": catalog.versions,
    }


def attack_info(catalog: Catalog, identifier: str) -> dict[str, Any]:
    """An ATT&CK technique: tactics, parent, revocation, and related CAPEC / CWE."""
    attack = catalog.attack
    technique = attack.get(identifier)
    tactics: list[dict[str, str | None]] = []
    for shortname in technique.tactics:
        try:
            tactic = attack.tactic(shortname)
            tactics.append({"id": tactic.id, "name": tactic.name, "shortname": shortname})
        except UnknownIdError:
            tactics.append({"id": None, "name": shortname, "shortname": shortname})
    current = attack.resolve(technique.id)
    replaced = attack.revoked_by(technique.id)
    return {
        "id": technique.id,
        "name": technique.name,
        "tactics": tactics,
        "is_subtechnique": technique.is_subtechnique,
        "parent": _technique_ref(catalog, technique.parent) if technique.parent else None,
        "subtechniques": [{"id": t.id, "name": t.name} for t in attack.subtechniques(technique.id)],
        "revoked": technique.revoked,
        "deprecated": technique.deprecated,
        "revoked_by": _technique_ref(catalog, replaced) if replaced else None,
        "current": _technique_ref(catalog, current) if current else None,
        "url": technique.url,
        "capec": [_capec_ref(catalog, p) for p in catalog.graph.attack_to_capec(technique.id)],
        "cwe": [_cwe_ref(catalog, c) for c in catalog.graph.attack_to_cwe(technique.id)],
        "catalog": catalog.versions,
    }
