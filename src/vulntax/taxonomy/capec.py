"""The CAPEC catalog of attack patterns, read from MITRE's STIX 2.1 bundle.

Each ``attack-pattern`` object becomes a :class:`CapecEntry`: its CAPEC id comes
from the external reference whose source is ``capec``, its CWE links from those
whose source is ``cwe``, its ATT&CK techniques from those whose source is
``ATTACK`` (kept as CAPEC wrote them; the cross-taxonomy graph resolves them
against the ATT&CK catalog). The hierarchy is ``x_capec_child_of_refs``.

**Display path.** CAPEC's STIX bundle marks no primary parent, so
:meth:`CapecCatalog.path` follows, at each step, the parent with the lowest CAPEC
number up to a root (a pattern without a parent, in CAPEC 3.9 always a Meta
pattern).

Deprecated (``x_capec_status == "Deprecated"``) and revoked patterns stay in the
catalog but look-ups skip them unless called with ``include_deprecated=True``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vulntax.errors import CatalogError, UnknownIdError
from vulntax.taxonomy.ids import id_number, numbered_id, technique_id
from vulntax.taxonomy.stix import external_ids, external_url, read_bundle


@dataclass(frozen=True, slots=True)
class CapecEntry:
    """One CAPEC attack pattern."""

    id: str  # "CAPEC-66"
    name: str
    abstraction: str  # "Meta" | "Standard" | "Detailed"
    status: str  # "Stable" | "Draft" | "Usable" | "Obsolete" | "Deprecated"
    deprecated: bool  # status Deprecated, or the STIX object is revoked
    parents: tuple[str, ...] = ()  # ChildOf targets, by number
    related_cwes: tuple[str, ...] = ()  # "CWE-89", ... as the bundle lists them
    attack_techniques: tuple[str, ...] = ()  # "T1190", "T1059.007", ... as CAPEC wrote them
    url: str | None = None


class CapecCatalog:
    """CAPEC attack patterns and their ``ChildOf`` hierarchy."""

    def __init__(self, version: str, entries: Iterable[CapecEntry]) -> None:
        self.version = version
        self._entries: dict[str, CapecEntry] = {}
        for entry in entries:
            if entry.id in self._entries:
                raise CatalogError(f"CAPEC {version}: {entry.id} is defined twice")
            self._entries[entry.id] = entry
        children: dict[str, list[str]] = {}
        for entry in self._entries.values():
            for parent in entry.parents:
                if parent not in self._entries:
                    raise CatalogError(
                        f"CAPEC {version}: {entry.id} is a child of {parent}, "
                        "which the catalog does not define"
                    )
                children.setdefault(parent, []).append(entry.id)
        self._children = {p: tuple(sorted(c, key=id_number)) for p, c in children.items()}
        self._paths: dict[str, tuple[str, ...]] = {}

    def entries(self, include_deprecated: bool = False) -> tuple[CapecEntry, ...]:
        """The patterns, by number; deprecated ones only if asked."""
        found = (e for e in self._entries.values() if include_deprecated or not e.deprecated)
        return tuple(sorted(found, key=lambda e: id_number(e.id)))

    def __contains__(self, identifier: object) -> bool:
        if not isinstance(identifier, (str, int)):
            return False
        try:
            self.normalize(identifier)
        except UnknownIdError:
            return False
        return True

    def __iter__(self) -> Iterator[CapecEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self.entries())

    def normalize(self, identifier: str | int, include_deprecated: bool = False) -> str:
        """``66``, ``"capec-066"`` → ``"CAPEC-66"``; UnknownIdError if unknown (or deprecated)."""
        canonical = numbered_id(identifier, "CAPEC")
        entry = self._entries.get(canonical)
        if entry is None:
            raise UnknownIdError(f"{canonical} is not defined in CAPEC {self.version}")
        if entry.deprecated and not include_deprecated:
            raise UnknownIdError(
                f"{canonical} ({entry.name}) is deprecated in CAPEC {self.version}"
            )
        return canonical

    def get(self, identifier: str | int, include_deprecated: bool = False) -> CapecEntry:
        return self._entries[self.normalize(identifier, include_deprecated)]

    def roots(self) -> tuple[str, ...]:
        """Patterns without a parent (deprecated ones left out), by number."""
        return tuple(e.id for e in self.entries() if not e.parents)

    def parents(self, identifier: str | int) -> tuple[str, ...]:
        return self.get(identifier, include_deprecated=True).parents

    def children(self, identifier: str | int) -> tuple[str, ...]:
        """Children that are not deprecated, by number."""
        node = self.normalize(identifier, include_deprecated=True)
        return tuple(c for c in self._children.get(node, ()) if not self._entries[c].deprecated)

    def ancestors(self, identifier: str | int) -> frozenset[str]:
        seen: set[str] = set()
        todo = list(self.parents(identifier))
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(self._entries[node].parents)
        return frozenset(seen)

    def path(self, identifier: str | int) -> tuple[str, ...]:
        """Root … id, following the lowest-numbered parent at each step."""
        start = self.normalize(identifier, include_deprecated=True)
        cached = self._paths.get(start)
        if cached is not None:
            return cached
        chain = [start]
        while self._entries[chain[-1]].parents:
            parent = min(self._entries[chain[-1]].parents, key=id_number)
            if parent in chain:
                cycle = " -> ".join([*chain, parent])
                raise CatalogError(f"CAPEC {self.version}: ChildOf cycle: {cycle}")
            chain.append(parent)
        result = tuple(reversed(chain))
        self._paths[start] = result
        return result


def parse_capec_stix(path: Path) -> CapecCatalog:
    """Parse MITRE's CAPEC STIX 2.1 bundle at ``path``."""
    objects = [o for o in read_bundle(path) if o.get("type") == "attack-pattern"]
    if not objects:
        raise CatalogError(f"{path}: the bundle holds no CAPEC attack patterns")
    capec_of: dict[str, str] = {}
    for obj in objects:
        ids = external_ids(obj, "capec")
        if len(ids) != 1 or "id" not in obj:
            raise CatalogError(f"{path}: attack pattern {obj.get('id')} has no single CAPEC id")
        capec_of[obj["id"]] = _id(ids[0], "CAPEC", path)
    versions = {str(o.get("x_capec_version")) for o in objects if o.get("x_capec_version")}
    if len(versions) != 1:
        raise CatalogError(f"{path}: expected one x_capec_version, found {sorted(versions)}")

    entries = []
    for obj in objects:
        try:
            parents = tuple(
                sorted(
                    {capec_of[ref] for ref in obj.get("x_capec_child_of_refs", ())}, key=id_number
                )
            )
        except KeyError as exc:
            raise CatalogError(
                f"{path}: {capec_of[obj['id']]} is a child of unknown {exc}"
            ) from exc
        status = str(obj.get("x_capec_status", ""))
        entries.append(
            CapecEntry(
                id=capec_of[obj["id"]],
                name=str(obj.get("name", "")),
                abstraction=str(obj.get("x_capec_abstraction", "")),
                status=status,
                deprecated=status == "Deprecated" or bool(obj.get("revoked")),
                parents=parents,
                related_cwes=tuple(
                    dict.fromkeys(_id(c, "CWE", path) for c in external_ids(obj, "cwe"))
                ),
                attack_techniques=tuple(
                    dict.fromkeys(_id(t, "T", path) for t in external_ids(obj, "ATTACK"))
                ),
                url=external_url(obj, "capec"),
            )
        )
    return CapecCatalog(versions.pop(), entries)


def _id(raw: str, prefix: str, path: Path) -> str:
    try:
        return technique_id(raw) if prefix == "T" else numbered_id(raw, prefix)
    except UnknownIdError as exc:
        raise CatalogError(f"{path}: {exc}") from exc
