"""The catalog snapshot: a compact gzipped JSON of exactly what the look-ups need.

Layout (``format_version`` 1)::

    {"format": "vulntax-taxonomy-snapshot", "format_version": 1,
     "generated_by": {"command": ..., "inputs": {"cwe": {"file": ..., "sha256": ...}, ...}},
     "cwe":    {"version", "roots", "columns", "entries": [[...], ...],
                "edges": [[child, parent, primary], ...]},
     "capec":  {"version", "columns", "entries": [[...], ...]},
     "attack": {"version", "tactics": [[id, name, shortname], ...], "columns",
                "techniques": [[...], ...], "revoked_by": {old: new}}}

Entries are rows under a ``columns`` header (the dataclass fields, in order), so
the file stays small and loads fast. Long texts (descriptions) are not kept.
Loading validates everything: a corrupt, truncated or foreign file is a
:class:`~vulntax.errors.CatalogError` naming the file and the problem.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import astuple
from pathlib import Path
from typing import Any

from vulntax.errors import CatalogError
from vulntax.taxonomy.attack import AttackCatalog, Tactic, Technique
from vulntax.taxonomy.capec import CapecCatalog, CapecEntry
from vulntax.taxonomy.cwe import CweCatalog, CweEntry, Edge

FORMAT = "vulntax-taxonomy-snapshot"
FORMAT_VERSION = 1
SECTIONS = ("cwe", "capec", "attack")

# Column types: "s" str, "s?" str or None, "b" bool, "l" list of str.
_CWE_TYPES = {
    "id": "s",
    "name": "s",
    "kind": "s",
    "abstraction": "s?",
    "status": "s",
    "usage": "s?",
    "in_view_1003": "b",
    "replaced_by": "s?",
    "suggestions": "l",
    "members": "l",
    "related_capec": "l",
}
_CAPEC_TYPES = {
    "id": "s",
    "name": "s",
    "abstraction": "s",
    "status": "s",
    "deprecated": "b",
    "parents": "l",
    "related_cwes": "l",
    "attack_techniques": "l",
    "url": "s?",
}
_TECHNIQUE_TYPES = {
    "id": "s",
    "name": "s",
    "tactics": "l",
    "parent": "s?",
    "is_subtechnique": "b",
    "revoked": "b",
    "deprecated": "b",
    "url": "s?",
}
_TACTIC_TYPES = {"id": "s", "name": "s", "shortname": "s"}
_EDGE_TYPES = {"child": "s", "parent": "s", "primary": "b"}

#: each dataclass with its column table (the tables follow the fields, in order)
TABLES = (
    (CweEntry, _CWE_TYPES),
    (CapecEntry, _CAPEC_TYPES),
    (Technique, _TECHNIQUE_TYPES),
    (Tactic, _TACTIC_TYPES),
    (Edge, _EDGE_TYPES),
)


def encode(
    cwe: CweCatalog,
    capec: CapecCatalog,
    attack: AttackCatalog,
    generated_by: dict[str, Any],
) -> dict[str, Any]:
    """The snapshot document for three catalogs."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generated_by": generated_by,
        "cwe": {
            "version": cwe.version,
            "roots": list(cwe.roots()),
            "columns": list(_CWE_TYPES),
            "entries": [_row(e) for e in cwe.entries()],
            "edges": [_row(e) for e in cwe.edges],
        },
        "capec": {
            "version": capec.version,
            "columns": list(_CAPEC_TYPES),
            "entries": [_row(e) for e in capec.entries(include_deprecated=True)],
        },
        "attack": {
            "version": attack.version,
            "tactics": [_row(t) for t in attack.tactics()],
            "columns": list(_TECHNIQUE_TYPES),
            "techniques": [_row(t) for t in attack.all_techniques()],
            "revoked_by": dict(sorted(attack.revocations.items())),
        },
    }


def write(document: dict[str, Any], path: Path) -> None:
    """Write ``document`` gzipped, byte-for-byte reproducible (no timestamp in the header)."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            path.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as handle,
        ):
            handle.write(text.encode("utf-8"))
    except OSError as exc:
        raise CatalogError(f"{path}: cannot write the snapshot: {exc}") from exc


def read(path: Path) -> dict[str, Any]:
    """The snapshot document in ``path``, checked to be one (not yet decoded into catalogs)."""
    try:
        with gzip.open(path, "rb") as handle:
            document = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"taxonomy snapshot {path} does not exist") from exc
    except (OSError, EOFError, ValueError) as exc:  # not gzip, truncated, not UTF-8 JSON
        raise CatalogError(f"{path} is not a readable taxonomy snapshot: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CatalogError(f"{path} is not a vulntax taxonomy snapshot (no format {FORMAT!r})")
    if document.get("format_version") != FORMAT_VERSION:
        raise CatalogError(
            f"{path} has snapshot format version {document.get('format_version')!r}; this "
            f"vulntax reads version {FORMAT_VERSION}: regenerate it with "
            "`vulntax taxonomy snapshot --data-dir DIR --out PATH`"
        )
    return document


def decode(document: dict[str, Any], path: Path) -> tuple[CweCatalog, CapecCatalog, AttackCatalog]:
    """The three catalogs of a snapshot document; CatalogError if anything is off."""
    try:
        return _decode(document)
    except CatalogError as exc:
        raise CatalogError(f"{path}: invalid taxonomy snapshot: {exc}") from exc
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        problem = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CatalogError(f"{path}: invalid taxonomy snapshot: {problem}") from exc


def _decode(doc: dict[str, Any]) -> tuple[CweCatalog, CapecCatalog, AttackCatalog]:
    cwe_doc, capec_doc, attack_doc = (_section(doc, name) for name in SECTIONS)
    cwe = CweCatalog(
        _str(cwe_doc["version"], "cwe.version"),
        [CweEntry(*r) for r in _rows(cwe_doc, "entries", _CWE_TYPES, "cwe")],
        [Edge(*r) for r in _rows(cwe_doc, "edges", _EDGE_TYPES, "cwe", columns=False)],
        _strs(cwe_doc["roots"], "cwe.roots"),
    )
    capec = CapecCatalog(
        _str(capec_doc["version"], "capec.version"),
        [CapecEntry(*r) for r in _rows(capec_doc, "entries", _CAPEC_TYPES, "capec")],
    )
    revoked = attack_doc["revoked_by"]
    if not isinstance(revoked, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in revoked.items()
    ):
        raise CatalogError("attack.revoked_by is not a map of technique ids")
    attack = AttackCatalog(
        _str(attack_doc["version"], "attack.version"),
        [Tactic(*r) for r in _rows(attack_doc, "tactics", _TACTIC_TYPES, "attack", columns=False)],
        [Technique(*r) for r in _rows(attack_doc, "techniques", _TECHNIQUE_TYPES, "attack")],
        revoked,
    )
    return cwe, capec, attack


def _section(doc: dict[str, Any], name: str) -> dict[str, Any]:
    section = doc.get(name)
    if not isinstance(section, dict):
        raise CatalogError(f"the {name!r} section is missing")
    return section


def _rows(
    section: dict[str, Any], key: str, types: dict[str, str], where: str, columns: bool = True
) -> list[tuple[Any, ...]]:
    if columns and section.get("columns") != list(types):
        raise CatalogError(f"{where}.columns is {section.get('columns')!r}, expected {list(types)}")
    rows = section[key]
    if not isinstance(rows, list):
        raise CatalogError(f"{where}.{key} is not a list")
    kinds = list(types.values())
    out = []
    for index, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(kinds):
            raise CatalogError(f"{where}.{key}[{index}] is not a row of {len(kinds)} values")
        values = []
        for value, kind in zip(row, kinds, strict=True):
            if kind == "l":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise CatalogError(f"{where}.{key}[{index}] holds {value!r}, not a list of ids")
                value = tuple(value)
            elif not (
                (kind == "b" and isinstance(value, bool))
                or (kind[0] == "s" and isinstance(value, str))
                or (kind == "s?" and value is None)
            ):
                raise CatalogError(f"{where}.{key}[{index}] holds {value!r} of the wrong type")
            values.append(value)
        out.append(tuple(values))
    return out


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise CatalogError(f"{where} is not a non-empty string")
    return value


def _strs(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogError(f"{where} is not a list of ids")
    return value


def _row(item: Any) -> list[Any]:
    return [list(v) if isinstance(v, tuple) else v for v in astuple(item)]
