"""The HTTP API with a model that has the CVSS v4.0 and metadata heads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

TEXT = "Cross-site request forgery in the admin panel of Acme Router allows changing settings."
META = {
    "cna": "cna@vuldb.com",
    "references": ["https://github.com/acme/router/issues/7"],
    "cna_cwe": ["CWE-352"],
    "cna_cvss": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:N",
}


@pytest.fixture(scope="module")
def client(heads_model: Path) -> Iterator[TestClient]:
    from vulntax.predictor import Predictor
    from vulntax.server.app import create_app

    with TestClient(create_app(Predictor(heads_model)), raise_server_exceptions=False) as c:
        yield c


def test_cvss4_and_metadata_in_answers(client: TestClient) -> None:
    plain = client.post("/v1/predict", json={"description": TEXT}).json()
    assert plain["cvss4"]["vector"].startswith("CVSS:4.0/") and plain["metadata"] == []
    aware = client.post("/v1/predict", json={"description": TEXT, "metadata": META}).json()
    assert aware["metadata"] == ["cna", "references", "cna_cwe", "cna_cvss"]
    batch = client.post(
        "/v1/predict",
        json={"items": [{"description": TEXT}, {"description": TEXT, "metadata": META}]},
    ).json()["items"]
    assert batch[0]["cvss"] == plain["cvss"] and batch[1]["cvss"] == aware["cvss"]


def test_bad_metadata_is_a_4xx(client: TestClient) -> None:
    bad = client.post(
        "/v1/predict", json={"description": TEXT, "metadata": {"cna_cvss": "CVSS:3.1/AV:Q"}}
    )
    assert 400 <= bad.status_code < 500 and "error" in bad.json()
    extra = client.post("/v1/predict", json={"description": TEXT, "metadata": {"vendor": "x"}})
    assert extra.status_code == 422
