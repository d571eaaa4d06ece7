"""Warnings and CVSS abstention reach every front end: JSON, the panel, the HTTP API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
from fastapi.testclient import TestClient

from vulntax.predictor import Predictor
from vulntax.render import NOT_ENOUGH_INFORMATION, cvss_display, prediction_panel
from vulntax.server.app import create_app

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "prediction.schema.json").read_text(encoding="utf-8"))
RESERVED = "** RESERVED ** This candidate has been reserved by an organization or individual."
SQLI = (
    "SQL injection vulnerability in login.php in Acme Portal 2.1 allows remote attackers to "
    "execute arbitrary SQL commands via the username parameter."
)


def _panel_text(prediction: dict, predictor: Predictor) -> str:
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(prediction_panel(prediction, predictor.catalog))
    return console.export_text()


def test_cli_json_carries_warnings_and_validates(tiny_model: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "vulntax",
            "predict",
            RESERVED,
            "--json",
            "--model",
            str(tiny_model),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    prediction = json.loads(out.stdout)
    jsonschema.validate(prediction, SCHEMA)
    assert [w["code"] for w in prediction["warnings"]] == ["reserved_or_rejected"]
    assert prediction["cvss"]["abstain"] and prediction["cvss"]["vector"].startswith("CVSS:3.1/")


def test_panel_shows_not_enough_information_instead_of_a_score(tiny_model: Path) -> None:
    predictor = Predictor(tiny_model)
    withheld = predictor.predict(RESERVED)
    text = _panel_text(withheld, predictor)
    assert NOT_ENOUGH_INFORMATION in text and "RESERVED or REJECTED" in text
    assert (
        f"{withheld['cvss']['base_score']:.1f} {withheld['cvss']['severity'].upper()}" not in text
    )
    answered = predictor.predict(SQLI)
    assert not answered["cvss"]["abstain"]
    shown = cvss_display(answered["cvss"])
    assert shown == f"{answered['cvss']['base_score']:.1f} {answered['cvss']['severity']}"
    assert shown.upper() in _panel_text(answered, predictor)
    assert cvss_display(withheld["cvss"]) == NOT_ENOUGH_INFORMATION


def test_http_api_answers_warnings(tiny_model: Path) -> None:
    with TestClient(create_app(Predictor(tiny_model))) as client:
        one = client.post("/v1/predict", json={"description": RESERVED})
        assert one.status_code == 200
        body = one.json()
        jsonschema.validate(body, SCHEMA)
        assert body["warnings"][0]["code"] == "reserved_or_rejected" and body["cvss"]["abstain"]
        batch = client.post(
            "/v1/predict", json={"items": [{"description": SQLI}, {"description": RESERVED}]}
        ).json()["items"]
        assert [bool(item["warnings"]) for item in batch] == [False, True]


def test_the_cvss4_score_abstains_with_the_v31_one() -> None:
    """The shipped model has the CVSS 4.0 head: its score is withheld with the v3.1 score."""
    predictor = Predictor()
    withheld = predictor.predict("asdkjh qwe zxcmnb")
    assert withheld["cvss"]["abstain"] and withheld["cvss4"]["abstain"]
    text = _panel_text(withheld, predictor)
    assert "CVSS 4.0 not enough information" in text
    score4 = f"{withheld['cvss4']['base_score']:.1f} {withheld['cvss4']['severity'].upper()}"
    assert score4 not in text
    answered = predictor.predict(SQLI)
    assert not answered["cvss4"]["abstain"]
    assert cvss_display(answered["cvss4"]).upper() in _panel_text(answered, predictor)
