"""ATT&CK Enterprise read from MITRE's real STIX bundle, and the analysts' old ids."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from vulntax.errors import UnknownIdError
from vulntax.taxonomy import Catalog


def test_version_and_counts(catalog: Catalog) -> None:
    attack = catalog.attack
    assert attack.version == "18.1"
    assert len(attack.techniques(include_revoked=True)) == 835
    assert len(attack.techniques()) == 691  # 132 revoked and 12 deprecated left out
    assert len(attack.revocations) == 132


def test_tactics_in_matrix_order(catalog: Catalog) -> None:
    tactics = catalog.attack.tactics()
    assert len(tactics) == 14
    assert (tactics[0].id, tactics[0].name, tactics[0].shortname) == (
        "TA0043",
        "Reconnaissance",
        "reconnaissance",
    )
    assert catalog.attack.tactic("initial-access").id == "TA0001"
    assert catalog.attack.tactic("ta40").name == "Impact"
    with pytest.raises(UnknownIdError):
        catalog.attack.tactic("TA9999")


def test_t1190(catalog: Catalog) -> None:
    technique = catalog.attack.get("t1190")
    assert technique.name == "Exploit Public-Facing Application"
    assert technique.tactics == ("initial-access",)
    assert technique.parent is None and not technique.is_subtechnique and technique.current
    assert technique.url == "https://attack.mitre.org/techniques/T1190"


def test_subtechniques(catalog: Catalog) -> None:
    attack = catalog.attack
    powershell = attack.get("T1059/001")
    assert (powershell.name, powershell.parent, powershell.is_subtechnique) == (
        "PowerShell",
        "T1059",
        True,
    )
    subs = [t.id for t in attack.subtechniques("T1059")]
    assert subs[:3] == ["T1059.001", "T1059.002", "T1059.003"]
    assert all(s.startswith("T1059.") for s in subs)


@pytest.mark.parametrize(
    ("old", "current"),
    [
        ("T1190", "T1190"),  # current
        ("T1066", "T1027.005"),  # revoked
        ("T1574.002", "T1574.001"),  # revoked (ATT&CK 18)
        ("T1150", "T1647"),  # revoked twice: T1150 -> T1547.011 -> T1647
        ("T1064", None),  # deprecated, no replacement
        ("T1149", None),
    ],
)
def test_resolve(catalog: Catalog, old: str, current: str | None) -> None:
    assert catalog.attack.resolve(old) == current


def test_revoked_technique_keeps_its_facts(catalog: Catalog) -> None:
    attack = catalog.attack
    old = attack.get("T1066")
    assert old.revoked and not old.current and old.name == "Indicator Removal from Tools"
    assert attack.revoked_by("T1066") == "T1027.005"
    assert attack.revoked_by("T1190") is None
    assert "T1066" not in {t.id for t in attack.techniques()}


def test_unknown_ids(catalog: Catalog) -> None:
    with pytest.raises(UnknownIdError, match="T0803 is not an ATT&CK Enterprise technique"):
        catalog.attack.get("T0803")  # an ATT&CK for ICS id
    with pytest.raises(UnknownIdError):
        catalog.attack.get("TT1565")
    assert "T1513" not in catalog.attack  # a Mobile technique


def _gold_ids(data_dir: Path) -> set[str]:
    gold = data_dir / "attack_gold"
    ids: set[str] = set()
    with (gold / "ctid-attack-to-cve.csv").open(encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            for column in (
                "Primary Impact",
                "Secondary Impact",
                "Exploitation Technique",
                "Uncategorized",
            ):
                ids.update(re.findall(r"T\d+(?:\.\d+)?", row[column] or ""))
    for path in sorted(gold.glob("kev-*_attack-*-enterprise.json")):
        mappings = json.loads(path.read_text(encoding="utf-8"))["mapping_objects"]
        ids.update(m["attack_object_id"] for m in mappings if m.get("attack_object_id"))
    return ids


def test_gold_set_ids_resolve_to_current_techniques(catalog: Catalog, data_dir: Path) -> None:
    attack = catalog.attack
    enterprise = sorted(i for i in _gold_ids(data_dir) if i in attack)
    not_current = {i: attack.resolve(i) for i in enterprise if not attack.get(i).current}
    assert not_current == {"T1066": "T1027.005", "T1149": None, "T1574.002": "T1574.001"}
    for identifier in enterprise:
        current = attack.resolve(identifier)
        assert current is None or attack.get(current).current
