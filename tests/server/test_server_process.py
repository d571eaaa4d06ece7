"""Prediction in a process of its own answers what the in-process predictor answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from vulntax.errors import ModelError
from vulntax.predictor import Predictor
from vulntax.server.app import create_app
from vulntax.server.process import PredictionProcess


@pytest.fixture(scope="module")
def process(tiny_model: Path) -> Iterator[PredictionProcess]:
    worker = PredictionProcess(tiny_model)
    yield worker
    worker.close()


def test_same_bytes_as_the_predictor(
    process: PredictionProcess, predictor: Predictor, descriptions: list[str]
) -> None:
    items: list[tuple[str | None, str]] = [(f"r{i}", t) for i, t in enumerate(descriptions[:60])]
    items += [("blank", " \t"), (None, "CVE-2021-44228")]
    got = process.predict_batch(items)
    expected = predictor.predict_batch(items)
    assert [orjson.dumps(g) for g in got] == [orjson.dumps(e) for e in expected]
    assert got[-2] == {"id": "blank", "error": "empty description"}  # errors stay dicts
    assert isinstance(got[0], orjson.Fragment)


def test_the_service_over_the_process(
    process: PredictionProcess, predictor: Predictor, descriptions: list[str]
) -> None:
    with (
        TestClient(create_app(predictor, predict_batch=process.predict_batch)) as over_process,
        TestClient(create_app(predictor)) as in_thread,
    ):
        for body in (
            {"id": "x", "description": descriptions[0]},
            {"items": [{"id": "a", "description": descriptions[1]}, {"description": ""}]},
            {"description": "CWE-79"},
        ):
            a = over_process.post("/v1/predict", json=body)
            b = in_thread.post("/v1/predict", json=body)
            assert (a.status_code, a.content) == (b.status_code, b.content)


def test_a_model_that_cannot_load_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as caught:
        PredictionProcess(tmp_path)
    assert "could not load the model" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_several_worker_processes_answer_what_the_predictor_answers(
    tiny_model: Path,
    predictor: Predictor,
    descriptions: list[str],
    tmp_path: Path,
    serve_vulntax: Any,
) -> None:
    """``vulntax serve --workers 2``: two spawned HTTP workers on one port, each its own model."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    args = ["--workers", "2", "--model", str(tiny_model), "--no-access-log"]
    log = tmp_path / "serve.log"
    with serve_vulntax(args, log) as url:

        def ask(text: str) -> bytes:
            answer = httpx.post(f"{url}/v1/predict", json={"description": text}, timeout=60)
            assert answer.status_code == 200, answer.text
            return answer.content

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(ask, descriptions[:32]))
    expected = [
        orjson.dumps(p) for p in predictor.predict_batch([(None, t) for t in descriptions[:32]])
    ]
    assert [orjson.loads(a) for a in answers] == [orjson.loads(e) for e in expected]
    assert log.read_text().count("Started server process") == 2


def test_workers_and_a_prediction_process_do_not_mix(tiny_model: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "vulntax", "serve", "--workers", "2", "--predict-in", "process"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: --predict-in process goes with one worker; several predict in threads"
    )
