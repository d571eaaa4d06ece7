"""MITRE ATT&CK (Enterprise): tactics and techniques, read from MITRE's STIX 2.1 bundle.

* ``x-mitre-tactic`` objects → :class:`Tactic` (``TA0001``, name, shortname), in the
  order of the ``x-mitre-matrix``'s ``tactic_refs``.
* ``attack-pattern`` objects → :class:`Technique`; its tactics are the
  ``kill_chain_phases`` of the ``mitre-attack`` kill chain (tactic shortnames).
* ``subtechnique-of`` relationships give a sub-technique's parent; ``revoked-by``
  relationships give the technique that replaced a revoked one.

Ids from older ATT&CK versions stay in the bundle as revoked or deprecated
objects, so :meth:`AttackCatalog.resolve` can bring an analyst's v9–v16 id to the
current technique. The release (e.g. ``18.1``) is the bundle's
``x-mitre-collection`` version where there is one, else the number in the file
name (``enterprise-attack-18.1.json.gz``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vulntax.errors import CatalogError, UnknownIdError
from vulntax.taxonomy.ids import tactic_id, technique_id
from vulntax.taxonomy.stix import external_ids, external_url, read_bundle


@dataclass(frozen=True, slots=True)
class Tactic:
    id: str  # "TA0001"
    name: str  # "Initial Access"
    shortname: str  # "initial-access"


@dataclass(frozen=True, slots=True)
class Technique:
    id: str  # "T1059" or "T1059.001"
    name: str
    tactics: tuple[str, ...]  # tactic shortnames, e.g. ("execution",)
    parent: str | None  # the parent technique of a sub-technique
    is_subtechnique: bool
    revoked: bool
    deprecated: bool
    url: str | None = None

    @property
    def current(self) -> bool:
        return not (self.revoked or self.deprecated)


class AttackCatalog:
    """ATT&CK tactics and techniques, with the revocation chain of old ids."""

    def __init__(
        self,
        version: str,
        tactics: Iterable[Tactic],
        techniques: Iterable[Technique],
        revoked_by: Mapping[str, str],
    ) -> None:
        self.version = version
        self._tactics = tuple(tactics)
        self._techniques: dict[str, Technique] = {}
        for technique in techniques:
            if technique.id in self._techniques:
                raise CatalogError(f"ATT&CK {version}: {technique.id} is defined twice")
            self._techniques[technique.id] = technique
        self._revoked_by = dict(revoked_by)
        for old, new in self._revoked_by.items():
            if old not in self._techniques or new not in self._techniques:
                raise CatalogError(f"ATT&CK {version}: revocation {old} -> {new} names unknown ids")
        self._subtechniques: dict[str, list[str]] = {}
        for technique in self._techniques.values():
            if technique.parent is not None:
                if technique.parent not in self._techniques:
                    raise CatalogError(
                        f"ATT&CK {version}: {technique.id} is a sub-technique of unknown "
                        f"{technique.parent}"
                    )
                self._subtechniques.setdefault(technique.parent, []).append(technique.id)

    # -- plain data ---------------------------------------------------------------------

    @property
    def revocations(self) -> dict[str, str]:
        """Revoked technique id → the id that replaced it (one step)."""
        return dict(self._revoked_by)

    def all_techniques(self) -> tuple[Technique, ...]:
        """Every technique object, revoked and deprecated ones included, by id."""
        return tuple(sorted(self._techniques.values(), key=lambda t: t.id))

    # -- look-ups -----------------------------------------------------------------------

    def __contains__(self, identifier: object) -> bool:
        if not isinstance(identifier, str):
            return False
        try:
            self.normalize(identifier)
        except UnknownIdError:
            return False
        return True

    def __len__(self) -> int:
        return len(self.techniques())

    def normalize(self, identifier: str) -> str:
        """``" t1059/001 "`` → ``"T1059.001"``; UnknownIdError if this release never had it."""
        canonical = technique_id(identifier)
        if canonical not in self._techniques:
            raise UnknownIdError(
                f"{canonical} is not an ATT&CK Enterprise technique (release {self.version}, "
                "revoked and deprecated ids included)"
            )
        return canonical

    def get(self, identifier: str) -> Technique:
        """The technique, current, revoked or deprecated."""
        return self._techniques[self.normalize(identifier)]

    def revoked_by(self, identifier: str) -> str | None:
        """The technique that directly replaced a revoked one (None if not revoked)."""
        return self._revoked_by.get(self.normalize(identifier))

    def resolve(self, identifier: str) -> str | None:
        """The current technique for ``identifier``, following ``revoked-by`` links.

        ``None`` where the chain ends in a deprecated technique (or a revoked one
        without replacement).
        """
        node = self.normalize(identifier)
        seen = [node]
        while self._techniques[node].revoked:
            replacement = self._revoked_by.get(node)
            if replacement is None:
                return None
            if replacement in seen:
                loop = " -> ".join([*seen, replacement])
                raise CatalogError(f"ATT&CK {self.version}: revoked-by loop: {loop}")
            seen.append(replacement)
            node = replacement
        return None if self._techniques[node].deprecated else node

    def techniques(self, include_revoked: bool = False) -> tuple[Technique, ...]:
        """Techniques by id; revoked and deprecated ones only if ``include_revoked``."""
        return tuple(t for t in self.all_techniques() if include_revoked or t.current)

    def subtechniques(self, identifier: str) -> tuple[Technique, ...]:
        """The current sub-techniques of a technique, by id."""
        kids = self._subtechniques.get(self.normalize(identifier), [])
        return tuple(self._techniques[k] for k in sorted(kids) if self._techniques[k].current)

    def tactics(self) -> tuple[Tactic, ...]:
        """The tactics in the matrix's order."""
        return self._tactics

    def tactic(self, identifier: str) -> Tactic:
        """A tactic by id (``TA0001``) or shortname (``initial-access``)."""
        text = identifier.strip().lower() if isinstance(identifier, str) else ""
        for tactic in self._tactics:
            if text == tactic.shortname:
                return tactic
        canonical = tactic_id(identifier)
        for tactic in self._tactics:
            if tactic.id == canonical:
                return tactic
        raise UnknownIdError(f"{canonical} is not an ATT&CK Enterprise tactic")


def parse_attack_stix(path: Path) -> AttackCatalog:
    """Parse MITRE's ATT&CK Enterprise STIX 2.1 bundle at ``path``."""
    objects = read_bundle(path)
    by_stix: dict[str, str] = {}
    patterns: list[dict[str, Any]] = []
    tactic_objs: dict[str, dict[str, Any]] = {}
    matrix_order: list[str] = []
    version = None
    for obj in objects:
        kind = obj.get("type")
        if kind == "attack-pattern":
            patterns.append(obj)
            by_stix[str(obj.get("id"))] = _technique_id(obj, path)
        elif kind == "x-mitre-tactic":
            tactic_objs[str(obj.get("id"))] = obj
        elif kind == "x-mitre-matrix":
            matrix_order.extend(str(ref) for ref in obj.get("tactic_refs", ()))
        elif kind == "x-mitre-collection":
            version = str(obj.get("x_mitre_version") or "") or None
    if not patterns or not tactic_objs:
        raise CatalogError(f"{path}: the bundle holds no ATT&CK techniques or tactics")
    version = version or _version_from_name(path)

    parents: dict[str, str] = {}
    revoked_by: dict[str, str] = {}
    for obj in objects:
        if obj.get("type") != "relationship" or obj.get("revoked"):
            continue
        source, target = (
            by_stix.get(str(obj.get("source_ref"))),
            by_stix.get(str(obj.get("target_ref"))),
        )
        if source is None or target is None:
            continue  # a relationship between other kinds of objects
        if obj.get("relationship_type") == "subtechnique-of":
            parents[source] = target
        elif obj.get("relationship_type") == "revoked-by":
            revoked_by[source] = target

    order = [t for t in matrix_order if t in tactic_objs]
    order += sorted(t for t in tactic_objs if t not in order)
    tactics = [_tactic(tactic_objs[t], path) for t in order]

    techniques = []
    for obj in patterns:
        tid = by_stix[str(obj["id"])]
        is_sub = bool(obj.get("x_mitre_is_subtechnique")) or "." in tid
        parent = parents.get(tid)
        if parent is None and is_sub and tid.split(".")[0] in by_stix.values():
            parent = tid.split(".")[0]
        techniques.append(
            Technique(
                id=tid,
                name=str(obj.get("name", "")),
                tactics=tuple(
                    str(p.get("phase_name"))
                    for p in obj.get("kill_chain_phases", ())
                    if isinstance(p, dict) and p.get("kill_chain_name") == "mitre-attack"
                ),
                parent=parent,
                is_subtechnique=is_sub,
                revoked=bool(obj.get("revoked")),
                deprecated=bool(obj.get("x_mitre_deprecated")),
                url=external_url(obj, "mitre-attack"),
            )
        )
    return AttackCatalog(version, tactics, techniques, revoked_by)


def _technique_id(obj: dict[str, Any], path: Path) -> str:
    ids = external_ids(obj, "mitre-attack")
    if len(ids) != 1:
        raise CatalogError(f"{path}: attack pattern {obj.get('id')} has no single ATT&CK id")
    try:
        return technique_id(ids[0])
    except UnknownIdError as exc:
        raise CatalogError(f"{path}: {exc}") from exc


def _tactic(obj: dict[str, Any], path: Path) -> Tactic:
    ids = external_ids(obj, "mitre-attack")
    if len(ids) != 1 or not obj.get("x_mitre_shortname"):
        raise CatalogError(f"{path}: tactic {obj.get('id')} lacks an id or shortname")
    try:
        canonical = tactic_id(ids[0])
    except UnknownIdError as exc:
        raise CatalogError(f"{path}: {exc}") from exc
    return Tactic(canonical, str(obj.get("name", "")), str(obj["x_mitre_shortname"]))


def _version_from_name(path: Path) -> str:
    match = re.search(r"(\d+(?:\.\d+)+|\d+)", path.name)
    if match is None:
        raise CatalogError(
            f"{path}: cannot tell the ATT&CK release (no x-mitre-collection in the bundle "
            "and no version number in the file name)"
        )
    return match.group(1)
