"""The dataset label policy: what a raw CWE label of a CVE becomes.

NVD and CNAs label CVEs with placeholders, categories, deprecated and
Discouraged entries as well as proper weaknesses. :func:`map_label` turns a raw
label into one weakness id (or ``None``) by these rules, in this order, applied
again to whatever a rule replaces the label with:

1. ``NVD-CWE-Other`` / ``NVD-CWE-noinfo`` → ``None`` (rule ``placeholder``).
2. malformed, or not in the catalog → ``None`` (``unknown``).
3. deprecated → the id its description names (``deprecated``, continue with it);
   none named → ``None`` (``deprecated-unmapped``).
4. a weakness whose usage is Allowed / Allowed-with-Review → itself (``allowed``).
5. a category or view: exactly one Mapping_Notes suggestion → that; else the
   lowest common ancestor in View 1000 of its member weaknesses (the deepest node
   shared by all their display paths; members outside View 1000 ignored). Found →
   continue with it (``category``); none → ``None`` (``category-unmapped``).
6. a Discouraged / Prohibited weakness: exactly one suggestion → that
   (``suggestion``, continue); else its nearest allowed ancestor
   (``nearest-allowed``); else the id itself (``kept-discouraged``): CWE-20,
   CWE-119 and CWE-200 have no allowed ancestor and must not be dropped.

The ``rule`` of the result names the chain of rules, e.g. ``category>kept-discouraged``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vulntax.errors import CatalogError, UnknownIdError
from vulntax.taxonomy.ids import NVD_PLACEHOLDERS

if TYPE_CHECKING:
    from vulntax.taxonomy.cwe import CweCatalog

#: every rule name a chain can hold; the last one of a chain decides
RULES = (
    "placeholder",
    "unknown",
    "deprecated",
    "deprecated-unmapped",
    "allowed",
    "category",
    "category-unmapped",
    "suggestion",
    "nearest-allowed",
    "kept-discouraged",
)


@dataclass(frozen=True, slots=True)
class LabelMapping:
    """What the label policy made of one raw label."""

    raw: str  # the label as the source wrote it
    mapped: str | None  # a weakness id, or None where the label is dropped
    rule: str  # the chain of rules applied, joined with ">"

    @property
    def final_rule(self) -> str:
        """The rule that decided (the last of the chain)."""
        return self.rule.rsplit(">", 1)[-1]


def map_label(catalog: CweCatalog, raw: str) -> LabelMapping:
    """Apply the label policy (module docstring) to one raw label."""
    text = raw.strip() if isinstance(raw, str) else raw
    if isinstance(text, str) and any(text.casefold() == p.casefold() for p in NVD_PLACEHOLDERS):
        return LabelMapping(raw, None, "placeholder")
    try:
        current = catalog.normalize(text)
    except UnknownIdError:
        return LabelMapping(raw, None, "unknown")

    chain: list[str] = []
    visited: list[str] = []

    def done(mapped: str | None, rule: str) -> LabelMapping:
        return LabelMapping(raw, mapped, ">".join([*chain, rule]))

    while True:
        if current in visited:
            loop = " -> ".join([*visited, current])
            raise CatalogError(f"CWE {catalog.version}: the label policy loops on {raw!r}: {loop}")
        visited.append(current)
        entry = catalog.get(current)
        if entry.deprecated:
            if entry.replaced_by is None:
                return done(None, "deprecated-unmapped")
            chain.append("deprecated")
            current = entry.replaced_by
        elif entry.allowed:
            return done(current, "allowed")
        elif entry.kind != "weakness":
            target = _single(entry.suggestions) or _common_ancestor(catalog, entry.members)
            if target is None:
                return done(None, "category-unmapped")
            chain.append("category")
            current = target
        elif (suggestion := _single(entry.suggestions)) is not None:
            chain.append("suggestion")
            current = suggestion
        elif (allowed := catalog.nearest_allowed(current)) is not None:
            return done(allowed, "nearest-allowed")
        else:
            return done(current, "kept-discouraged")


def _single(ids: tuple[str, ...]) -> str | None:
    return ids[0] if len(ids) == 1 else None


def _common_ancestor(catalog: CweCatalog, members: tuple[str, ...]) -> str | None:
    """The deepest node shared by the display paths of the members that are in View 1000."""
    paths = [catalog.path(m) for m in members if m in catalog and catalog.in_view_1000(m)]
    if not paths:
        return None
    shared: str | None = None
    for nodes in zip(*paths, strict=False):  # stops at the shortest path
        if any(node != nodes[0] for node in nodes):
            break
        shared = nodes[0]
    return shared
