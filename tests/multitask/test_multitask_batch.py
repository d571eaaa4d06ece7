"""A torch-based model in batch prediction and behind the HTTP service: it finishes, it agrees.

Forking a process after torch has started its thread pools deadlocks the child,
so these tests run the real command in a fresh process, with the default worker
count and no thread-limiting environment variable, under a timeout that fails
the test instead of hanging CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from vulntax.batch import items_of, pool_plan, predict_lines
from vulntax.errors import UsageError
from vulntax.records import IngestReport

TIMEOUT = 180  # seconds; the tiny model predicts these records in a few


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src")
    return env


@pytest.fixture(scope="module")
def records(mini_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vulntax.dataset.store import load_dataset

    texts = load_dataset(mini_dataset).columns("test", ["id", "description"])
    path = tmp_path_factory.mktemp("batch") / "records.jsonl"
    with open(path, "w", encoding="utf-8") as sink:
        for cve, text in list(zip(texts["id"], texts["description"], strict=True))[:120]:
            sink.write(json.dumps({"id": cve, "description": text}) + "\n")
        sink.write(json.dumps({"id": "CVE-0000-0001", "description": ""}) + "\n")
    return path


def _predict_file(model: Path, records: Path, out: Path, *extra: str) -> list[dict[str, Any]]:
    command = [sys.executable, "-m", "vulntax", "predict", "--model", str(model)]
    command += ["--input", str(records), "--output", str(out), "--quiet", *extra]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT, env=_env(), check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"vulntax predict {' '.join(extra)} did not finish in {TIMEOUT} s (hung)")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_batch_with_a_torch_model_finishes_under_the_default_workers(
    tiny_multitask: tuple[Path, list[str]], records: Path, tmp_path: Path
) -> None:
    model = tiny_multitask[0]
    default = _predict_file(model, records, tmp_path / "default.jsonl")
    two = _predict_file(model, records, tmp_path / "two.jsonl", "--workers", "2")
    one = _predict_file(model, records, tmp_path / "one.jsonl", "--workers", "1")
    assert len(default) == 121
    assert [r["id"] for r in default][:3] == [r["id"] for r in one][:3]
    assert "description" in str(default[-1]["error"])
    assert default == one == two
    assert all(r["cvss"]["vector"].startswith("CVSS:3.1/") for r in default[:-1])


LIBRARY_RUN = """
import sys
from pathlib import Path
from typing import Any
from vulntax.batch import default_workers, items_of, predict_lines
from vulntax.predictor import Predictor
from vulntax.records import IngestReport

model, records, out = sys.argv[1:4]
predictor = Predictor(model)
texts = [line for line in Path(records).read_text().splitlines()]
predictor.predict_batch([(None, t) for t in texts])  # torch's thread pools are now running
workers = max(2, default_workers())
with open(out, "wb") as sink:
    predict_lines(predictor, items_of(Path(records), IngestReport()), sink, 16, workers)
"""


def test_batch_after_the_model_has_predicted_in_the_same_process(
    tiny_multitask: tuple[Path, list[str]], records: Path, tmp_path: Path
) -> None:
    """A Python user predicts, then runs a batch: forked workers would hang here."""
    out = tmp_path / "library.jsonl"
    command = [sys.executable, "-c", LIBRARY_RUN, str(tiny_multitask[0]), str(records), str(out)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT, env=_env(), check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"a batch after a prediction did not finish in {TIMEOUT} s (hung)")
    assert done.returncode == 0, done.stderr
    assert len(out.read_text().splitlines()) == 121


def test_forking_is_refused_once_torch_is_loaded() -> None:
    import torch  # noqa: F401  (loaded, as it is once a torch model is)

    assert pool_plan(4) == ("inline", 1)
    assert pool_plan(4, "spawn") == ("spawn", 4)
    with pytest.raises(UsageError, match="deadlock"):
        pool_plan(4, "fork")
    with pytest.raises(UsageError, match="unknown start method"):
        pool_plan(4, "thread")


def test_spawned_workers_load_the_model_and_agree(
    tiny_multitask: tuple[Path, list[str]], records: Path, tmp_path: Path
) -> None:
    from vulntax.predictor import Predictor

    predictor = Predictor(tiny_multitask[0])
    outputs = {}
    for start in ("inline", "spawn"):
        out = tmp_path / f"{start}.jsonl"
        with open(out, "wb") as sink:
            result = predict_lines(
                predictor, items_of(records, IngestReport()), sink, 32, 2, start=start
            )
        assert (result.lines, result.errors) == (121, 1), result
        outputs[start] = out.read_bytes()
    assert outputs["inline"] == outputs["spawn"]


def test_the_service_answers_concurrent_requests_with_a_torch_model(
    tiny_multitask: tuple[Path, list[str]], records: Path, tmp_path: Path, serve_vulntax: Any
) -> None:
    model = tiny_multitask[0]
    texts = [json.loads(line)["description"] for line in records.read_text().splitlines()[:24]]
    args = ["--model", str(model), "--no-access-log"]
    with serve_vulntax(args, tmp_path / "serve.log", env=_env()) as url:

        def ask(text: str) -> dict[str, Any]:
            answer = httpx.post(f"{url}/v1/predict", json={"description": text}, timeout=60)
            assert answer.status_code == 200, answer.text
            result: dict[str, Any] = answer.json()
            return result

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(ask, texts * 2))
    assert len(answers) == 48
    first, second = answers[:24], answers[24:]
    # the same text answered twice, in whatever micro-batch it fell into: the same answer
    # (probabilities may differ in the last decimal with the batch's padding)
    vectors = [(a["cvss"]["vector"], a["cwe"]["id"]) for a in first]
    assert vectors == [(a["cvss"]["vector"], a["cwe"]["id"]) for a in second]
    assert all(cwe.startswith("CWE-") for _, cwe in vectors)
