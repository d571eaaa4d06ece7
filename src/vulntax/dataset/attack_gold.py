"""Analyst-made CVE → ATT&CK mappings (Center for Threat-Informed Defense).

Two sets, read from ``attack_gold/`` in the data directory:

* ``ctid``: ``ctid-attack-to-cve.csv`` — 839 CVEs mapped in the CTID "Mapping
  ATT&CK to CVE for Impact" project (ATT&CK v9 era). This is the **evaluation
  gold set**: its CVEs are kept out of every training split.
* ``kev``: ``kev-*_attack-*-enterprise.json`` — CISA KEV CVEs mapped in CTID's
  Mappings Explorer (ATT&CK 15.1 and 16.1). Curated labels a model may train on,
  minus any CVE that is also in the ``ctid`` set.

Each mapping keeps its type (exploitation technique, primary impact,
secondary impact, uncategorized). Technique ids are normalised
(``T1036.`` → ``T1036``); cells that are not technique ids at all (typos such
as ``TT1565``) are left out and counted in ``invalid``. Callers resolve
revoked ids with :meth:`AttackCatalog.resolve`; the sheets also hold ICS and
Mobile ids, which the Enterprise catalog does not know.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from vulntax.errors import InputError, UnknownIdError
from vulntax.taxonomy.ids import technique_id

CTID_CSV = "ctid-attack-to-cve.csv"
KEV_GLOB = "kev-*_attack-*-enterprise.json"
_CSV_COLUMNS = {
    "Primary Impact": "primary_impact",
    "Secondary Impact": "secondary_impact",
    "Exploitation Technique": "exploitation_technique",
    "Uncategorized": "uncategorized",
}


@dataclass
class GoldSet:
    name: str
    files: list[str] = field(default_factory=list)
    # CVE id -> mapping type -> technique ids (in file order)
    mappings: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    invalid: Counter[str] = field(default_factory=Counter)  # cells that are no technique id

    def techniques(self, cve_id: str) -> list[str]:
        seen: dict[str, None] = {}
        for ids in self.mappings.get(cve_id, {}).values():
            for t in ids:
                seen.setdefault(t, None)
        return list(seen)

    def __len__(self) -> int:
        return len(self.mappings)


def read_ctid(folder: Path) -> GoldSet:
    path = folder / CTID_CSV
    gold = GoldSet("ctid", files=[str(path)])
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"CVE ID", *_CSV_COLUMNS} - set(reader.fieldnames or [])
            if missing:
                raise InputError(f"missing columns {sorted(missing)}", path)
            for row in reader:
                cve = row["CVE ID"].strip()
                if not cve:
                    continue
                entry = gold.mappings.setdefault(cve, defaultdict(list))
                for column, kind in _CSV_COLUMNS.items():
                    for cell in _split(row[column]):
                        technique = _technique(cell, gold)
                        if technique and technique not in entry[kind]:
                            entry[kind].append(technique)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path) from exc
    gold.mappings = {k: dict(v) for k, v in gold.mappings.items()}
    return gold


def read_kev(folder: Path) -> GoldSet:
    gold = GoldSet("kev")
    mappings: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(folder.glob(KEV_GLOB)):
        gold.files.append(str(path))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            objects = data["mapping_objects"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"not a Mappings Explorer file: {exc}", path) from exc
        for i, obj in enumerate(objects):
            try:
                cve, technique, kind = (
                    obj["capability_id"],
                    obj["attack_object_id"],
                    obj["mapping_type"],
                )
            except (KeyError, TypeError) as exc:
                raise InputError(f"mapping object #{i} lacks {exc}", path) from exc
            technique = _technique(str(technique or ""), gold)
            if technique and technique not in mappings[cve][kind]:
                mappings[cve][kind].append(technique)
    gold.mappings = {k: dict(v) for k, v in mappings.items()}
    return gold


def _technique(cell: str, gold: GoldSet) -> str | None:
    try:
        return technique_id(cell)
    except UnknownIdError:
        gold.invalid[cell] += 1
        return None


def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split(";") if part.strip()]
