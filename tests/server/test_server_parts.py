"""The service's parts: micro-batching, the committed OpenAPI schema, static files, CLI."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from vulntax.cli import main
from vulntax.predictor import Predictor
from vulntax.server.app import STATIC
from vulntax.server.batching import MicroBatcher
from vulntax.server.openapi import render
from vulntax.server.schemas import Prediction

REPO = Path(__file__).resolve().parents[2]
SQLI = "SQL injection in the login form allows remote attackers to run SQL commands."
XSS = "Cross-site scripting in the search page allows injecting arbitrary web script."
UAF = "A use-after-free in the image decoder allows code execution via a crafted file."


# -- micro-batching -------------------------------------------------------------------------


class Recorder:
    """The predictor's own predict_batch, recording batch sizes; its first call waits for a gate."""

    def __init__(self, predictor: Predictor, fail_first: bool = False) -> None:
        self.predictor = predictor
        self.calls: list[list[str | None]] = []
        self.gate = threading.Event()
        self.fail_first = fail_first

    def __call__(self, items: Any) -> list[dict[str, Any]]:
        self.calls.append([item_id for item_id, _ in items])
        if len(self.calls) == 1:
            self.gate.wait(10)
            if self.fail_first:
                raise ValueError("boom")
        return self.predictor.predict_batch(items)

    async def started(self) -> None:
        while not self.calls:
            await asyncio.sleep(0.001)


def test_requests_waiting_together_are_predicted_together(predictor: Predictor) -> None:
    record = Recorder(predictor)

    async def scenario() -> list[list[dict[str, Any]]]:
        batcher = MicroBatcher(record, max_items=4)
        batcher.start()
        first = asyncio.create_task(batcher.predict([("a", SQLI)]))
        await record.started()  # the worker is busy with "a": the others queue up
        singles = [asyncio.create_task(batcher.predict([(f"b{i}", XSS)])) for i in range(3)]
        left = asyncio.create_task(batcher.predict([("gone", UAF)]))
        pair = asyncio.create_task(batcher.predict([("c1", UAF), ("c2", SQLI)]))
        await asyncio.sleep(0)
        left.cancel()  # a client that went away is not predicted
        record.gate.set()
        answers = await asyncio.gather(first, *singles, pair)
        assert (batcher.batches, batcher.items) == (3, 6)
        await batcher.stop()
        return list(answers)

    answers = asyncio.run(scenario())
    # three singles fit in max_items=4; the pair would make 5, so it waits for the next batch
    assert record.calls == [["a"], ["b0", "b1", "b2"], ["c1", "c2"]]
    assert answers[0] == predictor.predict_batch([("a", SQLI)])
    assert answers[1:4] == [predictor.predict_batch([(f"b{i}", XSS)]) for i in range(3)]
    assert answers[4] == predictor.predict_batch([("c1", UAF), ("c2", SQLI)])


def test_a_failed_batch_fails_its_requests_only(predictor: Predictor) -> None:
    record = Recorder(predictor, fail_first=True)

    async def scenario() -> tuple[BaseException | None, list[dict[str, Any]]]:
        batcher = MicroBatcher(record)
        batcher.start()
        failing = asyncio.create_task(batcher.predict([("a", SQLI)]))
        await record.started()
        record.gate.set()
        error = (await asyncio.gather(failing, return_exceptions=True))[0]
        later = await batcher.predict([("b", XSS)])  # the worker goes on
        await batcher.stop()
        return error if isinstance(error, BaseException) else None, later

    error, later = asyncio.run(scenario())
    assert isinstance(error, ValueError) and str(error) == "boom"
    assert later == predictor.predict_batch([("b", XSS)])


# -- documentation that cannot drift --------------------------------------------------------


def test_committed_openapi_schema_is_current(client: TestClient) -> None:
    committed = (REPO / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert committed == render(), (
        "docs/openapi.json is stale: run python -m vulntax.server.openapi docs/openapi.json"
    )
    assert client.get("/openapi.json").json() == json.loads(committed)


def test_every_route_is_documented_in_api_md() -> None:
    schema = json.loads(render())
    api_md = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    for path, operations in schema["paths"].items():
        for method in operations:
            assert f"`{method.upper()} {path}" in api_md, f"{method.upper()} {path} in docs/api.md"


def _shape(node: dict[str, Any], root: dict[str, Any]) -> Any:
    """The structure of a JSON schema: object fields, required ones, closedness, item shapes."""
    while "$ref" in node:
        where = node["$ref"].removeprefix("#/").split("/")
        node = root
        for key in where:
            node = node[key]
    if "anyOf" in node:  # pydantic's X | None
        kinds = [n for n in node["anyOf"] if n.get("type") != "null"]
        if len(kinds) == 1:
            return _shape(kinds[0], root)
    if node.get("type") == "object" or "properties" in node:
        extra = node.get("additionalProperties")
        return {
            "fields": {k: _shape(v, root) for k, v in node.get("properties", {}).items()},
            "required": sorted(node.get("required", [])),
            "closed": extra is False,
            "each": _shape(extra, root) if isinstance(extra, dict) else None,
        }
    if node.get("type") == "array":
        return {"items": _shape(node["items"], root)}
    return "value"


def test_answer_models_mirror_the_prediction_schema() -> None:
    contract = json.loads((REPO / "docs" / "prediction.schema.json").read_text(encoding="utf-8"))
    documented = Prediction.model_json_schema()
    assert _shape(documented, documented) == _shape(contract["$defs"]["prediction"], contract)


# -- the page's files -----------------------------------------------------------------------


def test_page_and_static_files_are_served_offline(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        served = client.get(f"/static/{name}")
        assert served.status_code == 200 and kind in served.headers["content-type"]
    assert client.get("/static/nothing.js").status_code == 404
    # nothing is loaded from elsewhere: the only absolute URLs are links to MITRE's pages
    for file in STATIC.iterdir():
        for url in re.findall(r"https?://[^\s\"'`)]+", file.read_text(encoding="utf-8")):
            assert re.match(r"https://(cwe|capec|attack)\.mitre\.org/", url), (file.name, url)


def test_static_files_are_package_data() -> None:
    import tomllib

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["vulntax"]
    for file in STATIC.iterdir():
        assert f"**/*{file.suffix}" in patterns, f"{file.name} would be left out of the wheel"


# -- the command ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fails(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(args)
    code = done.value.code
    return (code if isinstance(code, int) else -1), capsys.readouterr().err.strip()


def test_serve_refuses_a_bad_port_or_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert _fails(["serve", "--port", "0"], capsys) == (
        2,
        "error: --port must be between 1 and 65535 (got 0)",
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, message = _fails(["serve", "--port", str(port)], capsys)
    assert code == 2
    assert message.startswith(f"error: cannot listen on 127.0.0.1:{port} (Address already in use)")
    code, message = _fails(
        ["serve", "--port", str(_free_port()), "--model", str(tmp_path / "none")], capsys
    )
    assert (code, message) == (1, f"error: {tmp_path / 'none'}: no such model directory")


def test_the_cli_does_not_import_the_web_stack() -> None:
    probe = (
        "import sys, vulntax.cli.app; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
