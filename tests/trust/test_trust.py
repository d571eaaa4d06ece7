"""Trust checks: signals, negation scope, the fitted detector, abstention and its fallback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vulntax.errors import ModelError
from vulntax.predictor import MAX_TEXT, Predictor
from vulntax.trust.negation import drop_denials
from vulntax.trust.signals import signals

HERE = Path(__file__).parent
NOT_VULNERABILITIES = json.loads((HERE / "not_vulnerabilities.json").read_text(encoding="utf-8"))
SQLI = (
    "SQL injection vulnerability in login.php in Acme Portal 2.1 allows remote attackers to "
    "execute arbitrary SQL commands via the username parameter."
)


@pytest.fixture(scope="session")
def trusted_model(
    tiny_model: Path, mini_dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny model with trust checks fitted on the mini dataset (a small negative corpus)."""
    from vulntax.trust.fit import fit_trust

    folder = tmp_path_factory.mktemp("trusted") / "model"
    shutil.copytree(tiny_model, folder)
    trust = fit_trust(folder, mini_dataset, negatives_per_kind=1500, log=lambda m: None)
    trust.save(folder)
    return folder


@pytest.fixture(scope="session")
def trusted(trusted_model: Path) -> Predictor:
    return Predictor(trusted_model)


@pytest.fixture(scope="session")
def real_descriptions(mini_dataset: Path) -> list[str]:
    from vulntax.dataset.store import load_dataset

    texts = load_dataset(mini_dataset, verify=False).columns("test", ["description"])
    return texts["description"][:300]


# ---------------------------------------------------------------------- signals
@pytest.mark.parametrize(
    "text",
    [
        "** RESERVED ** This candidate has been reserved by an organization or individual.",
        "** REJECT ** DO NOT USE THIS CANDIDATE NUMBER. Reason: a duplicate.",
        "Rejected reason: This CVE ID has been rejected or withdrawn by its CNA.",
    ],
)
def test_placeholders_are_reserved_or_rejected(text: str) -> None:
    assert signals(text).reserved


@pytest.mark.parametrize(
    "text",
    [
        "Es wurde eine Schwachstelle in Xcomic bis 0.8.2 entdeckt. Sie wurde als kritisch "
        "eingestuft. Betroffen ist eine unbekannte Funktion.",
        "Une vulnérabilité dans le module de connexion permet à un attaquant distant "
        "d'exécuter du code arbitraire.",
        "在登录模块中发现了一个漏洞，远程攻击者可以执行任意代码。",
    ],
)
def test_other_languages_are_not_english(text: str) -> None:
    assert signals(text).not_english()


def test_english_descriptions_are_english() -> None:
    for text in (SQLI, "Windows Remote Desktop Protocol Remote Code Execution Vulnerability."):
        sig = signals(text)
        assert not sig.not_english(known_share=1.0) and not sig.reserved


# ---------------------------------------------------------------------- negation
def test_denials_leave_the_input_and_weaknesses_stay() -> None:
    denied = SQLI + " The vendor states that no cross-site scripting is possible."
    assert drop_denials(denied) == SQLI
    assert drop_denials(SQLI + " It is not related to path traversal.") == SQLI
    kept = "The login form does not properly validate input. No authentication is required."
    assert drop_denials(kept) == kept
    only = "This issue is not related to SQL injection."
    assert drop_denials(only) == only  # nothing else to read: kept as it is


def test_a_denied_weakness_does_not_move_the_answer(trusted: Predictor) -> None:
    clean = trusted.predict(SQLI)
    decoy = trusted.predict(SQLI + " The vendor states that no cross-site scripting is possible.")
    assert decoy["cwe"]["id"] == clean["cwe"]["id"] == "CWE-89"
    assert decoy["cwe"]["confidence"] == clean["cwe"]["confidence"]


# ---------------------------------------------------------------------- abstention
def test_non_vulnerability_texts_abstain_on_both_taxonomies(trusted: Predictor) -> None:
    assert len(NOT_VULNERABILITIES) == 25
    results = trusted.predict_batch([(i["kind"], i["text"]) for i in NOT_VULNERABILITIES])
    warned = {
        r["id"]
        for r in results
        if r["cwe"]["abstain"]
        and r["cvss"]["abstain"]
        and {w["code"] for w in r["warnings"]} & {"not_a_vulnerability_description", "not_english"}
    }
    assert len(warned) >= 24, sorted({i["kind"] for i in NOT_VULNERABILITIES} - warned)


def test_real_descriptions_are_answered(trusted: Predictor, real_descriptions: list[str]) -> None:
    results = trusted.predict_batch([(None, t) for t in real_descriptions])
    warned = [r for r in results if r["warnings"]]
    cvss_abstained = [r for r in results if r["cvss"]["abstain"]]
    assert len(warned) <= 0.03 * len(results)
    assert len(cvss_abstained) <= 0.15 * len(results)
    assert trusted.predict(SQLI)["warnings"] == []


def test_placeholders_and_long_texts_are_flagged(trusted: Predictor) -> None:
    reserved = trusted.predict("** RESERVED ** This candidate has been reserved.")
    assert "reserved_or_rejected" in [w["code"] for w in reserved["warnings"]]
    assert reserved["cwe"]["abstain"] and reserved["cvss"]["abstain"]
    long = trusted.predict(SQLI + " The parameter is echoed." * (MAX_TEXT // 20))
    assert "truncated_input" in [w["code"] for w in long["warnings"]]
    assert long["cwe"]["id"] == "CWE-89"  # a long description is still answered


def test_trust_settings_come_from_validation(trusted_model: Path) -> None:
    settings = json.loads((trusted_model / "trust.json").read_text())
    measured = settings["measured"]
    assert 0 < settings["ood_threshold"] < 1 and 0 < settings["cvss_min_confidence"] < 1
    assert measured["thresholds_from"] == "validation split"
    assert measured["validation_cvss_abstained"] <= 0.1
    assert min(measured["held_out_negatives_caught"].values()) >= 0.8


# ---------------------------------------------------------------------- files
def test_without_a_trust_file_rule_warnings_still_come(tiny_model: Path) -> None:
    assert not (tiny_model / "trust.json").exists()
    plain = Predictor(tiny_model)
    answer = plain.predict(SQLI)
    assert answer["warnings"] == [] and answer["cvss"]["abstain"] is False
    reserved = plain.predict("** REJECT ** DO NOT USE THIS CANDIDATE NUMBER.")
    assert reserved["cvss"]["abstain"] and reserved["cwe"]["abstain"]


def test_a_broken_trust_file_is_one_clear_error(trusted_model: Path, tmp_path: Path) -> None:
    broken = tmp_path / "model"
    shutil.copytree(trusted_model, broken)
    (broken / "trust.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"trust\.json: cannot read"):
        Predictor(broken)
    shutil.copy(trusted_model / "trust.json", broken / "trust.json")
    (broken / "trust.safetensors").write_bytes(b"\x00" * 40)
    with pytest.raises(ModelError, match="not a readable trust detector"):
        Predictor(broken)
    settings = json.loads((trusted_model / "trust.json").read_text())
    settings["vocabulary_sha256"] = "0" * 64
    (broken / "trust.json").write_text(json.dumps(settings))
    with pytest.raises(ModelError, match="another vocabulary"):
        Predictor(broken)
