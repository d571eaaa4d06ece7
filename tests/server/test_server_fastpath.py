"""The plain single prediction answered without FastAPI is the route's answer, byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from vulntax.predictor import MAX_TEXT, Predictor
from vulntax.server.app import create_app
from vulntax.server.fastpath import FastPredict
from vulntax.server.schemas import MAX_ID


@pytest.fixture(scope="module")
def both(predictor: Predictor) -> Iterator[tuple[TestClient, TestClient]]:
    """(the service as shipped, the service with every request through FastAPI)."""
    with (
        TestClient(create_app(predictor), raise_server_exceptions=False) as fast,
        TestClient(create_app(predictor, fast_path=False), raise_server_exceptions=False) as slow,
    ):
        yield fast, slow


def _fast_path(client: TestClient) -> FastPredict:
    layer: Any = client.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(layer, FastPredict):
        layer = layer.app
    return layer


def _same(both: tuple[TestClient, TestClient], **request: Any) -> tuple[int, bytes]:
    fast, slow = both
    a = fast.post("/v1/predict", **request)
    b = slow.post("/v1/predict", **request)
    assert (a.status_code, a.headers["content-type"], a.content) == (
        b.status_code,
        b.headers["content-type"],
        b.content,
    )
    assert a.headers["content-length"] == str(len(a.content))
    return a.status_code, a.content


def test_real_descriptions_get_the_routes_bytes(
    both: tuple[TestClient, TestClient], descriptions: list[str]
) -> None:
    counter = _fast_path(both[0])
    before = counter.answered
    for i, text in enumerate(descriptions[:40]):
        body = {"description": text, "id": f"CVE-2022-{i:04d}"} if i % 2 else {"description": text}
        status, _ = _same(both, json=body)
        assert status == 200
    _same(both, json={"description": descriptions[0], "id": None})
    _same(both, json={"id": "x" * MAX_ID, "description": "x" * MAX_TEXT})
    _same(
        both,
        content=b'{"description": "SQL injection in login"}',
        headers={"content-type": "Application/JSON; charset=utf-8"},
    )
    assert counter.answered - before == 43


@pytest.mark.parametrize(
    "request_",
    [
        {"json": {"description": " \t"}},  # the predictor cannot use it: the route's 422
        {"json": {"description": "CVE-2021-44228 CWE-79"}},
        {"json": {"description": "x" * (MAX_TEXT + 1)}},
        {"json": {"description": "xss", "id": "x" * (MAX_ID + 1)}},
        {"json": {"description": "xss", "id": 7}},
        {"json": {"description": 7}},
        {"json": {"description": "xss", "extra": 1}},
        {"json": {"id": "x"}},
        {"json": {"description": "xss", "metadata": {"cna_cwe": ["CWE-79"]}}},
        {"json": {"description": "xss", "metadata": {"cna_cvss": "CVSS:3.1/AV:N"}}},
        {"json": {"items": [{"description": "xss"}]}},
        {"json": ["xss"]},
        {"json": None},
        {"content": b'{"description": "x"'},
        {"content": b'{"description": "\xff"}'},
        {"content": b'\xef\xbb\xbf{"description": "xss"}'},
        {"content": b""},
        {"content": b'{"description": "xss"}', "headers": {"content-type": "text/plain"}},
        {"content": b'{"description": "xss"}', "headers": {"content-type": "text/json"}},
    ],
)
def test_everything_else_is_the_routes_answer(
    both: tuple[TestClient, TestClient], request_: dict[str, Any]
) -> None:
    counter = _fast_path(both[0])
    before = counter.answered
    if "content" in request_:
        request_ = {"headers": {"content-type": "application/json"}, **request_}
    _same(both, **request_)
    assert counter.answered == before


def test_a_prediction_that_fails_is_answered_by_the_route(predictor: Predictor) -> None:
    calls = []

    def failing(items: Any) -> list[dict[str, Any]]:
        calls.append(len(items))
        raise ZeroDivisionError("x")

    with TestClient(
        create_app(predictor, predict_batch=failing), raise_server_exceptions=False
    ) as client:
        response = client.post("/v1/predict", json={"description": "SQL injection in login"})
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal error: ZeroDivisionError (a bug in vulntax; see the server log)"
    }
    assert calls == [1, 1]  # tried here, then by the route, whose handler answered
