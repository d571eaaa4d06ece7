"""Read MITRE's CWE XML (``cwec_vX.Y.xml``, or the ``.zip`` holding it) into a CweCatalog.

What is read, per entry (namespace ``http://cwe.mitre.org/cwe-7``):

* ``Weakness`` / ``Category`` / ``View``: ``ID``, ``Name``, ``Abstraction``, ``Status``;
  ``Mapping_Notes/Usage`` and ``Mapping_Notes/Suggestions/Suggestion/@CWE_ID``;
  ``Related_Attack_Patterns/Related_Attack_Pattern/@CAPEC_ID``.
* View 1000 edges: ``Related_Weakness Nature="ChildOf" View_ID="1000"`` (with
  ``Ordinal="Primary"``); its roots are View 1000's ``Members/Has_Member`` (the Pillars).
* View 1003 membership: the view's own ``Members/Has_Member`` list (its 37 top
  entries) together with ``Related_Weakness View_ID="1003"`` (their children) — CWE
  4.14 uses both.
* Members of categories (``Relationships/Has_Member``) and views (``Members/Has_Member``).
* Replacement of a deprecated entry: the CWE ids its description (summary for a
  category, objective for a view) names, leaving out its own id and the ids of
  views (descriptions cite views as where an entry was once organised, never as
  its replacement); exactly one left → that id, else none.

The XML is untrusted input: it is parsed with ``defusedxml``.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from vulntax.errors import CatalogError
from vulntax.taxonomy.cwe import CweCatalog, CweEntry, Edge

NS = "http://cwe.mitre.org/cwe-7"
_N = "{" + NS + "}"
RESEARCH_VIEW = "1000"
NVD_VIEW = "1003"
_CWE_REF = re.compile(r"\bCWE-(\d+)\b")


def read_xml_bytes(path: Path) -> bytes:
    """The XML document in ``path``: a ``.zip`` holding one ``.xml``, or the ``.xml`` itself."""
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.lower().endswith(".xml")]
                if len(names) != 1:
                    raise CatalogError(
                        f"{path}: expected one .xml file in the zip, found {len(names)}"
                    )
                return archive.read(names[0])
        return path.read_bytes()
    except (OSError, zipfile.BadZipFile) as exc:
        raise CatalogError(f"{path}: cannot read the CWE catalog: {exc}") from exc


def parse_cwe_xml(path: Path) -> CweCatalog:
    """Parse MITRE's CWE XML file at ``path``."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    data = read_xml_bytes(path)
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise CatalogError(f"{path}: not a readable CWE XML document: {exc}") from exc
    if root.tag != f"{_N}Weakness_Catalog":
        raise CatalogError(
            f"{path}: not a CWE catalog in the {NS} schema (root element is {root.tag!r})"
        )
    version = root.get("Version")
    if not version:
        raise CatalogError(f"{path}: the Weakness_Catalog element has no Version")
    try:
        return _build(root, version)
    except CatalogError as exc:
        raise CatalogError(f"{path}: {exc}") from exc


def _build(root: Any, version: str) -> CweCatalog:
    views = {v.get("ID"): v for v in root.iter(f"{_N}View")}
    if RESEARCH_VIEW not in views or NVD_VIEW not in views:
        raise CatalogError(f"CWE {version} lacks View {RESEARCH_VIEW} or View {NVD_VIEW}")
    view_ids = set(views)
    roots = [_cwe(m.get("CWE_ID")) for m in views[RESEARCH_VIEW].iter(f"{_N}Has_Member")]
    in_1003 = {_cwe(m.get("CWE_ID")) for m in views[NVD_VIEW].iter(f"{_N}Has_Member")}

    edges: list[Edge] = []
    raw: list[tuple[str, Any, str]] = []  # (kind, element, description text)
    for weakness in root.iter(f"{_N}Weakness"):
        cwe_id = _cwe(weakness.get("ID"))
        for rel in weakness.iter(f"{_N}Related_Weakness"):
            if rel.get("Nature") != "ChildOf":
                continue
            if rel.get("View_ID") == RESEARCH_VIEW:
                primary = rel.get("Ordinal") == "Primary"
                edges.append(Edge(cwe_id, _cwe(rel.get("CWE_ID")), primary))
            elif rel.get("View_ID") == NVD_VIEW:
                in_1003.add(cwe_id)
        raw.append(("weakness", weakness, _text(weakness.find(f"{_N}Description"))))
    for category in root.iter(f"{_N}Category"):
        raw.append(("category", category, _text(category.find(f"{_N}Summary"))))
    for view in views.values():
        raw.append(("view", view, _text(view.find(f"{_N}Objective"))))

    entries = [_entry(kind, el, text, in_1003, view_ids) for kind, el, text in raw]
    return CweCatalog(version, entries, edges, roots)


def _entry(kind: str, el: Any, text: str, in_1003: set[str], view_ids: set[str]) -> CweEntry:
    cwe_id = _cwe(el.get("ID"))
    name = el.get("Name")
    status = el.get("Status")
    if not name or not status:
        raise CatalogError(f"{cwe_id} lacks a Name or Status attribute")
    notes = el.find(f"{_N}Mapping_Notes")
    usage = None
    suggestions: tuple[str, ...] = ()
    if notes is not None:
        usage = _text(notes.find(f"{_N}Usage")) or None
        suggestions = _unique(_cwe(s.get("CWE_ID")) for s in notes.iter(f"{_N}Suggestion"))
    members: tuple[str, ...] = ()
    if kind != "weakness":
        members = _unique(_cwe(m.get("CWE_ID")) for m in el.iter(f"{_N}Has_Member"))
    capec = _unique(
        _numbered(p.get("CAPEC_ID"), "CAPEC") for p in el.iter(f"{_N}Related_Attack_Pattern")
    )
    replaced_by = None
    if status == "Deprecated":
        own = el.get("ID")
        named = {n for n in _CWE_REF.findall(text) if n != own and n not in view_ids}
        if len(named) == 1:
            replaced_by = _cwe(named.pop())
    return CweEntry(
        id=cwe_id,
        name=name,
        kind=kind,
        abstraction=el.get("Abstraction") if kind == "weakness" else None,
        status=status,
        usage=usage,
        in_view_1003=cwe_id in in_1003,
        replaced_by=replaced_by,
        suggestions=suggestions,
        members=members,
        related_capec=capec,
    )


def _cwe(number: str | None) -> str:
    return _numbered(number, "CWE")


def _numbered(number: str | None, prefix: str) -> str:
    if number is None or not number.strip().isdigit():
        raise CatalogError(f"malformed {prefix} id {number!r}")
    return f"{prefix}-{int(number)}"


def _text(el: Any) -> str:
    return " ".join("".join(el.itertext()).split()) if el is not None else ""


def _unique(ids: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))
