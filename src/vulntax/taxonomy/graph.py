"""The cross-taxonomy graph CWE → CAPEC → ATT&CK, built from MITRE's own links.

**CWE → CAPEC** is the union of both directions MITRE publishes: a weakness's
``Related_Attack_Patterns`` in the CWE XML, and each CAPEC pattern's ``cwe``
external references in the CAPEC bundle. The two lists mostly agree; the union
keeps a link either side states. Deprecated CAPEC patterns are left out.

**CAPEC → ATT&CK** is each pattern's ``ATTACK`` external references, resolved
against the ATT&CK catalog: an id ATT&CK has revoked becomes its replacement
(``AttackCatalog.resolve``); an id the Enterprise catalog does not have (CAPEC
also cites Mobile ATT&CK, e.g. T1513) or that is deprecated without replacement
is left out and listed in :attr:`CrossGraph.dropped`.

**CWE → ATT&CK** goes through CAPEC: the union of the techniques of the CWE's patterns.

**Only direct links count.** Links do not propagate along the CWE or CAPEC
hierarchies: a weakness does not inherit its ancestors' patterns (too broad for
it) nor its descendants' (too specific). The dataset marks CAPEC and ATT&CK
labels derived through this graph as "derived", so precise links matter more
than coverage; a caller wanting more can walk ``CweCatalog.path`` itself.

Every result is a tuple sorted by id number; the reverse maps mirror the forward ones.
"""

from __future__ import annotations

from collections.abc import Callable

from vulntax.taxonomy.attack import AttackCatalog
from vulntax.taxonomy.capec import CapecCatalog
from vulntax.taxonomy.cwe import CweCatalog
from vulntax.taxonomy.ids import id_number


def _technique_key(tid: str) -> tuple[int, int]:
    major, _, minor = tid[1:].partition(".")
    return int(major), int(minor or -1)


class CrossGraph:
    """CWE ↔ CAPEC ↔ ATT&CK links (see the module docstring for the rules)."""

    def __init__(self, cwe: CweCatalog, capec: CapecCatalog, attack: AttackCatalog) -> None:
        self._cwe, self._capec, self._attack = cwe, capec, attack
        #: links MITRE states that name something the catalogs lack (one line each)
        self.dropped: list[str] = []
        cwe_capec: dict[str, set[str]] = {}
        for entry in cwe:
            for capec_id in entry.related_capec:
                if capec_id in capec:
                    cwe_capec.setdefault(entry.id, set()).add(capec_id)
                else:
                    self.dropped.append(f"{entry.id} -> {capec_id}: not a current CAPEC pattern")
        capec_attack: dict[str, set[str]] = {}
        for pattern in capec:
            for weakness in pattern.related_cwes:
                if weakness in cwe:
                    cwe_capec.setdefault(weakness, set()).add(pattern.id)
                else:
                    self.dropped.append(f"{pattern.id} -> {weakness}: not in CWE {cwe.version}")
            for raw in pattern.attack_techniques:
                current = attack.resolve(raw) if raw in attack else None
                if current is None:
                    why = "deprecated" if raw in attack else "not an Enterprise technique"
                    self.dropped.append(f"{pattern.id} -> {raw}: {why} in ATT&CK {attack.version}")
                else:
                    capec_attack.setdefault(pattern.id, set()).add(current)

        self._cwe_capec = _sorted(cwe_capec, id_number)
        self._capec_attack = _sorted(capec_attack, _technique_key)
        cwe_attack: dict[str, set[str]] = {}
        for weakness, capec_ids in self._cwe_capec.items():
            for capec_id in capec_ids:
                cwe_attack.setdefault(weakness, set()).update(self._capec_attack.get(capec_id, ()))
        self._cwe_attack = _sorted({k: v for k, v in cwe_attack.items() if v}, _technique_key)
        self._capec_cwe = _sorted(_reverse(self._cwe_capec), id_number)
        self._attack_capec = _sorted(_reverse(self._capec_attack), id_number)
        self._attack_cwe = _sorted(_reverse(self._cwe_attack), id_number)

    def cwe_to_capec(self, cwe_id: str | int) -> tuple[str, ...]:
        return self._cwe_capec.get(self._cwe.normalize(cwe_id), ())

    def cwe_to_attack(self, cwe_id: str | int) -> tuple[str, ...]:
        return self._cwe_attack.get(self._cwe.normalize(cwe_id), ())

    def capec_to_attack(self, capec_id: str | int) -> tuple[str, ...]:
        return self._capec_attack.get(self._capec.normalize(capec_id, include_deprecated=True), ())

    def capec_to_cwe(self, capec_id: str | int) -> tuple[str, ...]:
        return self._capec_cwe.get(self._capec.normalize(capec_id, include_deprecated=True), ())

    def attack_to_capec(self, technique_id: str) -> tuple[str, ...]:
        """Patterns linked to a technique (a revoked id is first resolved to its replacement)."""
        current = self._attack.resolve(technique_id)
        return () if current is None else self._attack_capec.get(current, ())

    def attack_to_cwe(self, technique_id: str) -> tuple[str, ...]:
        current = self._attack.resolve(technique_id)
        return () if current is None else self._attack_cwe.get(current, ())


def _reverse(links: dict[str, tuple[str, ...]]) -> dict[str, set[str]]:
    reverse: dict[str, set[str]] = {}
    for source, targets in links.items():
        for target in targets:
            reverse.setdefault(target, set()).add(source)
    return reverse


def _sorted(
    links: dict[str, set[str]], key: Callable[[str], tuple[int, int] | int]
) -> dict[str, tuple[str, ...]]:
    return {k: tuple(sorted(v, key=key)) for k, v in links.items()}
