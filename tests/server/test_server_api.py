"""Every route of the HTTP API on the tiny real model: answers, limits and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from vulntax import __version__
from vulntax.predictor import MAX_TEXT, Predictor
from vulntax.server.app import MAX_BODY_BYTES, create_app
from vulntax.server.schemas import MAX_ITEMS
from vulntax.taxonomy.describe import attack_info, capec_info, cwe_info

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "prediction.schema.json").read_text(encoding="utf-8"))

SQLI = (
    "SQL injection in the login form of Acme Portal 3.1 allows remote attackers to "
    "execute arbitrary SQL commands via the username parameter."
)
XSS = (
    "Cross-site scripting (XSS) vulnerability in the admin panel of FooCMS 2.3 allows remote "
    "attackers to inject arbitrary web script or HTML via the title parameter."
)
UAF = "A use-after-free in the PDF parser allows attackers to execute code via a crafted file."


def error_of(response: Any, status: int) -> str:
    """The one-line message of an error answer, after checking its status and shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str)
    assert "\n" not in body["error"]
    return str(body["error"])


# -- service routes -------------------------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_version_names_package_model_catalog_and_limits(
    client: TestClient, predictor: Predictor
) -> None:
    answer = client.get("/v1/version").json()
    assert answer["vulntax"] == __version__
    assert answer["model"]["name"] == "tiny-linear"
    assert answer["model"]["version"] == predictor.model_info["version"]
    assert answer["model"]["kind"] == "linear"
    assert answer["model"]["created"] == predictor.model.config["created"]
    assert answer["catalog"] == predictor.catalog.versions
    assert answer["limits"] == {
        "max_body_bytes": MAX_BODY_BYTES,
        "max_items": MAX_ITEMS,
        "max_description_chars": MAX_TEXT,
    }


# -- predictions ----------------------------------------------------------------------------


def test_single_prediction_is_the_cli_object(
    client: TestClient, predictor: Predictor, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.post("/v1/predict", json={"description": SQLI, "id": "CVE-X-1"})
    assert response.status_code == 200
    answer = response.json()
    jsonschema.validate(answer, SCHEMA)
    assert answer == predictor.predict(SQLI, "CVE-X-1")
    assert answer["cwe"]["id"] == "CWE-89"
    # and exactly what `vulntax predict --json` prints for the same text
    from vulntax.cli import main

    with pytest.raises(SystemExit) as done:
        main(["predict", "--json", "--model", str(tiny_model), SQLI])
    assert done.value.code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {**answer, "id": None}


def test_id_is_optional(client: TestClient) -> None:
    answer = client.post("/v1/predict", json={"description": XSS}).json()
    assert answer["id"] is None
    assert answer["cwe"]["id"] == "CWE-79"


def test_batch_keeps_order_and_gives_bad_items_their_error(
    client: TestClient, predictor: Predictor
) -> None:
    items = [
        {"id": "a", "description": XSS},
        {"id": "empty", "description": "   "},
        {"id": "b", "description": SQLI},
        {"id": "only-an-id", "description": "CVE-2021-44228"},
        {"description": UAF},
        {"id": "long", "description": "overflow " * (MAX_TEXT // 9 + 1)},
    ]
    response = client.post("/v1/predict", json={"items": items})
    assert response.status_code == 200
    answer = response.json()
    assert list(answer) == ["items"]
    got = answer["items"]
    assert [g["id"] for g in got] == ["a", "empty", "b", "only-an-id", None, "long"]
    for result in got:
        jsonschema.validate(result, SCHEMA)
    assert got[1] == {"id": "empty", "error": "empty description"}
    assert got[3] == {"id": "only-an-id", "error": "empty description"}
    assert got[5] == {"id": "long", "error": f"description longer than {MAX_TEXT:,} characters"}
    expected = predictor.predict_batch([("a", XSS), ("b", SQLI), (None, UAF)])
    assert [got[0], got[2], got[4]] == expected
    assert (got[0]["cwe"]["id"], got[2]["cwe"]["id"]) == ("CWE-79", "CWE-89")


def test_batch_of_only_bad_items(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"items": [{"id": "x", "description": ""}]})
    assert response.json() == {"items": [{"id": "x", "error": "empty description"}]}


def test_batch_size_is_bounded(client: TestClient) -> None:
    full = [{"description": f"{UAF} ({i})"} for i in range(MAX_ITEMS)]
    answer = client.post("/v1/predict", json={"items": full}).json()
    assert len(answer["items"]) == MAX_ITEMS
    message = error_of(
        client.post("/v1/predict", json={"items": [*full, {"description": UAF}]}), 422
    )
    assert message == f"items: List should have at most {MAX_ITEMS} items after validation, not 257"


BAD_BODIES: list[tuple[Any, int, str]] = [
    ({"description": ""}, 422, "description: empty description"),
    ({"description": " \n\t "}, 422, "description: empty description"),
    ({"description": "CVE-2021-44228 CWE-502"}, 422, "description: empty description"),
    ({"description": None}, 422, "description: Input should be a valid string"),
    ({"description": 42}, 422, "description: Input should be a valid string"),
    ({"description": ["a"]}, 422, "description: Input should be a valid string"),
    ({"id": "x"}, 422, "description: Field required"),
    (
        {"descripton": SQLI},
        422,
        "description: Field required; descripton: Extra inputs are not permitted",
    ),
    ({"description": SQLI, "id": 7}, 422, "id: Input should be a valid string"),
    ({"description": SQLI, "id": "x" * 201}, 422, "id: String should have at most 200 characters"),
    (
        {"description": "a" * (MAX_TEXT + 1)},
        422,
        f"description: String should have at most {MAX_TEXT} characters",
    ),
    ({"items": []}, 422, "items: List should have at least 1 item after validation, not 0"),
    ({"items": "abc"}, 422, "items: Input should be a valid list"),
    (
        {"items": [{"description": "a"}, {"id": "b"}]},
        422,
        "items[1].description: Field required",
    ),
    (
        {"items": [{"description": 1}]},
        422,
        "items[0].description: Input should be a valid string",
    ),
    ({"items": [SQLI]}, 422, "items[0]: Input should be a valid dictionary"),
    ([SQLI], 422, 'request body: expected a JSON object with "description" or "items"'),
    (SQLI, 422, 'request body: expected a JSON object with "description" or "items"'),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_BODIES)
def test_bad_bodies_get_a_clear_4xx(
    client: TestClient, body: Any, status: int, message: str
) -> None:
    got = error_of(client.post("/v1/predict", json=body), status)
    assert got.startswith(message), got


@pytest.mark.parametrize(
    ("content", "headers", "status", "message"),
    [
        (b'{"description": "x"', {}, 400, "request body is not valid JSON: Expecting"),
        (b"{bad}", {}, 400, "request body is not valid JSON: Expecting property name"),
        (b"null", {}, 422, 'request body: expected a JSON object with "description" or "items"'),
        (b"", {}, 400, "request body is empty: send a JSON object"),
        (b'{"description": "\xff\xfe"}', {}, 400, "request body is not valid JSON: 'utf-8'"),
        (
            b'{"description": "x"}',
            {"content-type": "text/plain"},
            415,
            "send the body as JSON, Content-Type: application/json (got text/plain)",
        ),
        (
            b"description=x",
            {"content-type": "application/x-www-form-urlencoded"},
            415,
            "send the body as JSON",
        ),
    ],
)
def test_malformed_bodies(
    client: TestClient, content: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    sent = {"content-type": "application/json", **headers}
    got = error_of(client.post("/v1/predict", content=content, headers=sent), status)
    assert got.startswith(message), got


def test_a_json_body_without_content_type_is_refused(client: TestClient) -> None:
    response = client.post("/v1/predict", content=b'{"description": "x"}')
    assert "content-type" not in response.request.headers
    got = error_of(response, 415)
    assert got == "send the body as JSON, Content-Type: application/json (got none)"


def test_body_size_is_limited_before_parsing(client: TestClient) -> None:
    big = json.dumps({"description": "a" * MAX_BODY_BYTES}).encode()
    got = error_of(
        client.post("/v1/predict", content=big, headers={"content-type": "application/json"}),
        413,
    )
    assert got == (
        f"request body too large: at most {MAX_BODY_BYTES:,} bytes are accepted ({len(big):,})"
    )

    def chunks() -> Any:  # no Content-Length: the limit counts what arrives
        for _ in range(2 * MAX_BODY_BYTES // 65536):
            yield b" " * 65536

    got = error_of(
        client.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"}),
        413,
    )
    assert got.endswith(f"(more than {MAX_BODY_BYTES:,})")
    # just under the limit is parsed as usual (here: too long a description, a 422)
    fits = json.dumps({"description": "a" * (MAX_BODY_BYTES - 100)}).encode()
    error_of(
        client.post("/v1/predict", content=fits, headers={"content-type": "application/json"}),
        422,
    )


def test_no_client_error_is_a_500(client: TestClient) -> None:
    bodies = [b"[]", b"{}", b"0", b"true", b'"', b"{" * 10_000, b'{"items": [null]}', b"\x00"]
    bodies += [json.dumps({"items": [{"description": "x", "id": None, "z": 1}]}).encode()]
    bodies += [json.dumps({"description": "\ud800"}, ensure_ascii=True).encode()]
    for body in bodies:
        response = client.post(
            "/v1/predict", content=body, headers={"content-type": "application/json"}
        )
        assert 200 <= response.status_code < 500, (body[:40], response.text)
        assert "error" in response.json() or response.status_code == 200


# -- taxonomy look-ups ----------------------------------------------------------------------


def test_taxonomy_lookups_are_the_cli_objects(client: TestClient, predictor: Predictor) -> None:
    catalog = predictor.catalog
    cwe = client.get("/v1/cwe/79").json()
    assert cwe == cwe_info(catalog, "CWE-79")
    assert [p["id"] for p in cwe["path"]] == list(catalog.cwe.path("CWE-79"))
    assert any(c["id"] == "CAPEC-63" for c in cwe["capec"])
    assert client.get("/v1/cwe/CWE-79").json() == cwe
    capec = client.get("/v1/capec/CAPEC-66").json()
    assert capec == capec_info(catalog, "CAPEC-66")
    assert capec["name"] == "SQL Injection"
    attack = client.get("/v1/attack/T1059.007").json()
    assert attack == attack_info(catalog, "T1059.007")
    assert attack["parent"]["id"] == "T1059"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/cwe/99999", "CWE-99999 is not defined in CWE"),
        ("/v1/cwe/abc", "'abc' is not a CWE id (expected e.g. CWE-79 or 79)"),
        ("/v1/cwe/NVD-CWE-Other", "NVD-CWE-Other is an NVD placeholder"),
        ("/v1/capec/99999", "CAPEC-99999"),
        ("/v1/capec/CWE-79", "'CWE-79' is not a CAPEC id"),
        ("/v1/attack/T9999", "T9999"),
        ("/v1/attack/x", "'x' is not an ATT&CK technique id"),
    ],
)
def test_unknown_ids_are_404(client: TestClient, path: str, message: str) -> None:
    got = error_of(client.get(path), 404)
    assert got.startswith(message), got


def test_cvss_scoring(client: TestClient) -> None:
    answer = client.get(
        "/v1/cvss", params={"vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    ).json()
    assert (answer["base_score"], answer["severity"]) == (9.8, "Critical")
    assert answer["metric_names"]["AV"] == {"name": "Attack Vector", "value": "Network"}
    got = error_of(client.get("/v1/cvss", params={"vector": "CVSS:3.1/AV:N"}), 400)
    assert got.startswith("invalid CVSS vector 'CVSS:3.1/AV:N': Missing mandatory metrics")
    assert error_of(client.get("/v1/cvss"), 422) == "query parameter vector: Field required"


def test_unknown_paths_and_methods(client: TestClient) -> None:
    assert error_of(client.get("/v2/predict"), 404).startswith("no such path: /v2/predict")
    assert error_of(client.get("/v1/predict"), 405) == "GET is not allowed on /v1/predict"
    assert error_of(client.delete("/healthz"), 405) == "DELETE is not allowed on /healthz"


def test_an_app_without_a_model_answers_503(tmp_path: Path) -> None:
    with TestClient(create_app(None)) as bare:
        assert error_of(bare.get("/v1/version"), 503) == "this server has no model loaded"
        assert bare.get("/healthz").status_code == 200


def test_a_bug_is_a_500_with_a_one_line_message(predictor: Predictor) -> None:
    app = create_app(predictor)

    @app.get("/boom")
    async def boom() -> None:
        raise ZeroDivisionError("x")

    with TestClient(app, raise_server_exceptions=False) as bugged:
        got = error_of(bugged.get("/boom"), 500)
    assert got == "internal error: ZeroDivisionError (a bug in vulntax; see the server log)"
