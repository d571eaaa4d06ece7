"""``vulntax compose``: a composite model from saved models, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TEXT = "SQL injection in login.php allows remote attackers to run SQL commands via the user field."


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vulntax", *args], capture_output=True, text=True, timeout=120
    )


def test_compose_writes_a_model_that_predicts(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "combo"
    done = run(
        "compose", "--part", f"a={tiny_model}", "--part", f"b={tiny_model}",
        "--head", "cwe=a", "--head", "capec=a", "--head", "attack=b",
        "--head", "cvss=a:0.7,b:0.3", "--out", str(out), "--name", "combo",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "composite"
    assert config["heads"]["cvss"] == {"a": 0.7, "b": 0.3}
    predicted = run("predict", "--model", str(out), "--json", TEXT)
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["cvss"]["vector"].startswith("CVSS:3.1/")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--part", "a", "--head", "cwe=a"], "expected NAME=DIR"),
        (["--part", "a=/no/such/dir", "--head", "cwe=a", "--head", "cvss=a",
          "--head", "capec=a", "--head", "attack=a"], "not a model directory"),
        (["--part", "a={tmp}", "--head", "cwe=a", "--head", "cvss=a",
          "--head", "capec=a", "--head", "attack=a"], "not a model directory"),
        (["--part", "a={model}", "--head", "cwe=a"], "composite heads must map"),
        (["--part", "a={model}", "--head", "cwe=a", "--head", "cwe=a"], "given twice"),
        (["--part", "a={model}", "--head", "cvss=a:x"], "not NAME:WEIGHT"),
        (["--part", "a={model}", "--head", "cwe=b", "--head", "cvss=a",
          "--head", "capec=a", "--head", "attack=a"], "unknown parts"),
    ],
)  # fmt: skip
def test_bad_compositions_are_one_line_errors(
    tiny_model: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    filled = [a.format(model=tiny_model, tmp=tmp_path) for a in args]
    done = run("compose", *filled, "--out", str(tmp_path / "c"))
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_compose_references_a_shipped_model_by_name(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "combo"
    done = run(
        "compose", "--part", "linear=default", "--part", f"b={tiny_model}",
        "--head", "cwe=linear:0.7,b:0.3", "--head", "capec=linear", "--head", "attack=linear",
        "--head", "cvss=linear", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["parts"]["linear"]["shipped"] == "default"
    assert not (out / "parts" / "linear").exists()
    predicted = run("predict", "--model", str(out), "--json", TEXT)
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["cwe"]["id"] == "CWE-89"
