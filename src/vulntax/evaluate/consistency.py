"""Cross-taxonomy consistency: do the top CAPEC and ATT&CK agree with the predicted CWE?

Measured through MITRE's own links (:class:`~vulntax.taxonomy.graph.CrossGraph`),
per classified record:

* ``capec`` — the top CAPEC pattern is linked to the predicted CWE or to a CWE
  on its View-1000 line (the CWE, its ancestors and its descendants);
* ``attack`` — the top ATT&CK technique, counted at technique level (a
  sub-technique as its parent), is one the catalog reaches from that line
  (CWE → CAPEC → ATT&CK, likewise rolled up);
* ``both`` — both of the above;
* ``capec_ranked`` — among records listing two or more CAPEC patterns, the share
  whose listed probabilities are not all equal (the list ranks something).

``catalog_reach`` says how many records have any catalog-linked technique at
all: where the line reaches none, ``attack`` cannot hold whatever is predicted.
"""

from __future__ import annotations

from typing import Any

from vulntax.evaluate.columns import PredictionColumns
from vulntax.evaluate.scoring import parent_technique


class CatalogLines:
    """The CAPEC patterns and ATT&CK techniques a CWE's View-1000 line links to (cached)."""

    def __init__(self, catalog: Any) -> None:
        self.catalog = catalog
        self._capec: dict[str, frozenset[str]] = {}
        self._attack: dict[str, frozenset[str]] = {}

    def capec(self, cwe: str) -> frozenset[str]:
        if cwe not in self._capec:
            cat = self.catalog
            line = {cwe}
            if cwe in cat.cwe:
                line |= cat.cwe.ancestors(cwe) | cat.cwe.descendants(cwe)
            self._capec[cwe] = frozenset(p for c in line for p in cat.graph.cwe_to_capec(c))
        return self._capec[cwe]

    def attack(self, cwe: str) -> frozenset[str]:
        if cwe not in self._attack:
            graph = self.catalog.graph
            self._attack[cwe] = frozenset(
                parent_technique(t) for p in self.capec(cwe) for t in graph.capec_to_attack(p)
            )
        return self._attack[cwe]


def consistency(predictions: PredictionColumns, catalog: Any) -> dict[str, Any]:
    """The shares above (None where no record counts), with the record counts."""
    lines = CatalogLines(catalog)
    counts = {"capec": [0, 0], "attack": [0, 0], "both": [0, 0], "capec_ranked": [0, 0]}
    reach = 0
    rows = 0
    for ok, cwe, capec, attack in zip(
        predictions.ok, predictions.cwe, predictions.capec, predictions.attack, strict=True
    ):
        if not ok or cwe is None:
            continue
        rows += 1
        reach += bool(lines.attack(cwe))
        capec_ok = attack_ok = None
        if capec:
            capec_ok = capec[0][0] in lines.capec(cwe)
            _add(counts["capec"], capec_ok)
        if len(capec) >= 2:
            _add(counts["capec_ranked"], len({p for _, p in capec}) > 1)
        if attack:
            attack_ok = parent_technique(attack[0][0]) in lines.attack(cwe)
            _add(counts["attack"], attack_ok)
        if capec_ok is not None and attack_ok is not None:
            _add(counts["both"], capec_ok and attack_ok)
    out: dict[str, Any] = {
        name: {"share": hits / n if n else None, "records": n} for name, (hits, n) in counts.items()
    }
    out["catalog_reach"] = {"share": reach / rows if rows else None, "records": rows}
    return out


def gold_reach(cwe: list[list[str]], techniques: list[list[str]], catalog: Any) -> dict[str, Any]:
    """Analysts' side: the share of gold techniques the gold CWE's line reaches in the catalog.

    Counted per (record, technique) at technique level, over records with both labels.
    """
    lines = CatalogLines(catalog)
    hits = total = records = 0
    for labels, gold in zip(cwe, techniques, strict=True):
        if not labels or not gold:
            continue
        records += 1
        reach = frozenset().union(*(lines.attack(c) for c in labels))
        parents = {parent_technique(t) for t in gold}
        hits += len(parents & reach)
        total += len(parents)
    return {"share": hits / total if total else None, "techniques": total, "records": records}


def _add(counter: list[int], hit: bool) -> None:
    counter[0] += int(hit)
    counter[1] += 1
