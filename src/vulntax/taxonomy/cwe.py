"""The CWE catalog: entries, and the hierarchy of the research view (View 1000).

Every weakness, category and view of MITRE's CWE XML is a :class:`CweEntry`. The
hierarchy is View 1000 ("Research Concepts"): its ``ChildOf`` edges form a
directed acyclic graph whose roots are the ten Pillars. Most weaknesses have
one parent; some have two or three (CWE-732 sits under CWE-285 and CWE-668).
MITRE marks exactly one parent of each weakness ``Ordinal="Primary"``.

**Display path.** :meth:`CweCatalog.path` gives one path root … id for display
and for labels: at each step it follows the ``Primary`` ``ChildOf`` edge; where
an entry has no primary edge, the parent with the lowest CWE number. So
``path("CWE-79") == ("CWE-707", "CWE-74", "CWE-79")``. Every entry's path is the
path of its chosen parent plus itself, so paths never disagree with each other.
Entries outside View 1000 (categories, views, deprecated weaknesses) have the
empty path ``()``. :meth:`CweCatalog.is_path` accepts *any* root-to-node chain of
real edges, not only the display path.

The catalog is built from plain data (entries and edges), whether these come
from MITRE's XML (:mod:`vulntax.taxonomy.cwe_xml`) or from a snapshot
(:mod:`vulntax.taxonomy.snapshot`), so both answer every look-up alike.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from vulntax.errors import CatalogError, UnknownIdError
from vulntax.taxonomy.ids import id_number, numbered_id

if TYPE_CHECKING:
    from vulntax.taxonomy.labels import LabelMapping

#: Mapping_Notes usages that allow an entry as a vulnerability's root-cause label
ALLOWED_USAGES = frozenset({"Allowed", "Allowed-with-Review"})
KINDS = ("weakness", "category", "view")


@dataclass(frozen=True, slots=True)
class CweEntry:
    """One weakness, category or view of the CWE catalog."""

    id: str  # "CWE-79"
    name: str
    kind: str  # "weakness" | "category" | "view"
    abstraction: str | None  # "Pillar" | "Class" | "Base" | "Variant" | "Compound" | None
    status: str  # "Stable" | "Draft" | "Incomplete" | "Obsolete" | "Deprecated" | "Usable"
    usage: str | None  # Mapping_Notes/Usage: "Allowed" | "Allowed-with-Review" | ... | None
    in_view_1003: bool  # in the NVD's "simplified mapping" view 1003
    replaced_by: str | None = None  # deprecated entries: the one id their description names
    suggestions: tuple[str, ...] = ()  # Mapping_Notes/Suggestions, in MITRE's order
    members: tuple[str, ...] = ()  # categories and views: Has_Member ids
    related_capec: tuple[str, ...] = ()  # Related_Attack_Patterns: "CAPEC-63", ...

    @property
    def deprecated(self) -> bool:
        return self.status == "Deprecated"

    @property
    def allowed(self) -> bool:
        """A weakness whose usage allows it as a root-cause label."""
        return self.kind == "weakness" and self.usage in ALLOWED_USAGES


@dataclass(frozen=True, slots=True)
class Edge:
    """A View-1000 ``ChildOf`` edge: ``child`` is a child of ``parent``."""

    child: str
    parent: str
    primary: bool


class CweCatalog:
    """CWE entries and the View-1000 hierarchy, with look-ups by id."""

    def __init__(
        self,
        version: str,
        entries: Iterable[CweEntry],
        edges: Iterable[Edge],
        roots: Iterable[str],
    ) -> None:
        self.version = version
        self._entries: dict[str, CweEntry] = {}
        for entry in entries:
            if entry.id in self._entries:
                raise CatalogError(f"CWE catalog {version}: {entry.id} is defined twice")
            self._entries[entry.id] = entry
        self._edges: tuple[Edge, ...] = tuple(edges)
        self._roots: tuple[str, ...] = tuple(sorted(set(roots), key=id_number))
        self._parents: dict[str, tuple[str, ...]] = {}
        self._primary: dict[str, str] = {}
        children: dict[str, list[str]] = {}
        grouped: dict[str, list[Edge]] = {}
        for edge in self._edges:
            for end in (edge.child, edge.parent):
                if end not in self._entries:
                    raise CatalogError(
                        f"CWE catalog {version}: View-1000 edge {edge.child} -> {edge.parent} "
                        f"names {end}, which the catalog does not define"
                    )
            grouped.setdefault(edge.child, []).append(edge)
            children.setdefault(edge.parent, []).append(edge.child)
        for child, group in grouped.items():
            # primary parent first, then the others by number
            ordered = sorted(group, key=lambda e: (not e.primary, id_number(e.parent)))
            self._parents[child] = tuple(dict.fromkeys(e.parent for e in ordered))
            self._primary[child] = ordered[0].parent  # primary, else the lowest number
        self._children = {
            parent: tuple(sorted(set(kids), key=id_number)) for parent, kids in children.items()
        }
        self._view_1000 = frozenset(self._roots) | frozenset(self._parents)
        for root in self._roots:
            if root not in self._entries:
                raise CatalogError(f"CWE catalog {version}: View-1000 root {root} is not defined")
            if root in self._parents:
                raise CatalogError(f"CWE catalog {version}: View-1000 root {root} has a parent")
        for entry in self._entries.values():
            for ref in (entry.replaced_by, *entry.suggestions, *entry.members):
                if ref is not None and ref not in self._entries:
                    raise CatalogError(
                        f"CWE catalog {version}: {entry.id} refers to {ref}, "
                        "which the catalog does not define"
                    )
        self._paths: dict[str, tuple[str, ...]] = {}

    # -- plain data (used by snapshots) --------------------------------------------------

    @property
    def edges(self) -> tuple[Edge, ...]:
        """Every View-1000 ``ChildOf`` edge, as given to the constructor."""
        return self._edges

    def entries(self) -> tuple[CweEntry, ...]:
        """Every entry, ordered by CWE number."""
        return tuple(sorted(self._entries.values(), key=lambda e: id_number(e.id)))

    # -- look-ups by id ------------------------------------------------------------------

    def __contains__(self, identifier: object) -> bool:
        if not isinstance(identifier, (str, int)):
            return False
        try:
            self.normalize(identifier)
        except UnknownIdError:
            return False
        return True

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[CweEntry]:
        return iter(self.entries())

    def normalize(self, identifier: str | int) -> str:
        """The catalog's spelling of an id: ``79``, ``"cwe-79"``, ``" CWE-079 "`` → ``"CWE-79"``.

        Raises :class:`UnknownIdError` for a malformed id, an NVD placeholder, or
        an id this catalog does not define.
        """
        canonical = numbered_id(identifier, "CWE")
        if canonical not in self._entries:
            raise UnknownIdError(
                f"{canonical} is not defined in CWE {self.version} "
                f"({len(self._entries)} weaknesses, categories and views)"
            )
        return canonical

    def get(self, identifier: str | int) -> CweEntry:
        """The entry for ``identifier`` (any spelling :meth:`normalize` accepts)."""
        return self._entries[self.normalize(identifier)]

    # -- View 1000 -----------------------------------------------------------------------

    def roots(self) -> tuple[str, ...]:
        """The View-1000 entries without a parent (the Pillars), by number."""
        return self._roots

    def in_view_1000(self, identifier: str | int) -> bool:
        return self.normalize(identifier) in self._view_1000

    def parents(self, identifier: str | int) -> tuple[str, ...]:
        """View-1000 parents: the ``Primary`` one first, then the others by number."""
        return self._parents.get(self.normalize(identifier), ())

    def primary_parent(self, identifier: str | int) -> str | None:
        """The parent the display path follows (``None`` for roots and non-members)."""
        return self._primary.get(self.normalize(identifier))

    def children(self, identifier: str | int) -> tuple[str, ...]:
        """View-1000 children, by number."""
        return self._children.get(self.normalize(identifier), ())

    def ancestors(self, identifier: str | int) -> frozenset[str]:
        """Every entry above ``identifier`` in View 1000 (through any parent)."""
        return self._closure(self.normalize(identifier), self._parents)

    def descendants(self, identifier: str | int) -> frozenset[str]:
        """Every entry below ``identifier`` in View 1000."""
        return self._closure(self.normalize(identifier), self._children)

    @staticmethod
    def _closure(start: str, step: dict[str, tuple[str, ...]]) -> frozenset[str]:
        seen: set[str] = set()
        todo = list(step.get(start, ()))
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(step.get(node, ()))
        return frozenset(seen)

    def path(self, identifier: str | int) -> tuple[str, ...]:
        """The display path root … id in View 1000 (see the module docstring); ``()`` if none."""
        start = self.normalize(identifier)
        if start not in self._view_1000:
            return ()
        cached = self._paths.get(start)
        if cached is not None:
            return cached
        chain = [start]
        while chain[-1] in self._primary:
            parent = self._primary[chain[-1]]
            if parent in chain:
                cycle = " -> ".join([*chain, parent])
                raise CatalogError(f"CWE {self.version}: View 1000 has a ChildOf cycle: {cycle}")
            if parent in self._paths:
                result = (*self._paths[parent], *reversed(chain))
                break
            chain.append(parent)
        else:
            if chain[-1] not in self._roots:
                raise CatalogError(
                    f"CWE {self.version}: {chain[-1]} has no View-1000 parent but is not a root"
                )
            result = tuple(reversed(chain))
        self._paths[start] = result
        return result

    def is_path(self, path: Sequence[str | int]) -> bool:
        """True iff ``path`` runs from a root down real View-1000 ``ChildOf`` edges (any edge)."""
        if not path:
            return False
        try:
            nodes = [self.normalize(node) for node in path]
        except UnknownIdError:
            return False
        if nodes[0] not in self._roots:
            return False
        return all(parent in self._parents.get(child, ()) for parent, child in pairwise(nodes))

    def is_related(self, a: str | int, b: str | int) -> bool:
        """True iff ``a == b`` or one is an ancestor of the other in View 1000."""
        first, second = self.normalize(a), self.normalize(b)
        return first == second or first in self.ancestors(second) or second in self.ancestors(first)

    def nearest_allowed(self, identifier: str | int) -> str | None:
        """``identifier`` if its usage allows it, else the closest allowed ancestor, else None.

        Breadth-first over every View-1000 parent, the primary parent first.
        """
        start = self.normalize(identifier)
        seen = {start}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if self._entries[node].allowed:
                return node
            for parent in self._parents.get(node, ()):
                if parent not in seen:
                    seen.add(parent)
                    queue.append(parent)
        return None

    def map_label(self, raw: str) -> LabelMapping:
        """The dataset label policy (see :mod:`vulntax.taxonomy.labels`)."""
        from vulntax.taxonomy.labels import map_label

        return map_label(self, raw)
