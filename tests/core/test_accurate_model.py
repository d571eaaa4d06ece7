"""The shipped ``accurate`` model (bench/finetune/accurate.py): the shipped default model and a
fine-tuned MiniLM averaged per head, with the default's trust checks and stacked heads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vulntax.models import load_model, named

pytest.importorskip("torch", reason="the accurate model needs the neural extra")
pytestmark = pytest.mark.skipif(
    not named.named_dir("accurate").is_dir(), reason="this installation does not ship it"
)

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SQLI = (
    "SQL injection vulnerability in login.php in Acme Portal 2.1 allows remote attackers to "
    "execute arbitrary SQL commands via the username parameter."
)
TEXTS = [
    SQLI,
    "A use-after-free in the JavaScript engine of ExampleBrowser before 9.1 allows remote "
    "attackers to execute arbitrary code via a crafted web page.",
    "The backup feature of Foo NAS 3.0 stores the administrator password in cleartext in a "
    "world-readable file, which allows local users to obtain it.",
]


@pytest.fixture(scope="module")
def accurate(data_dir: Path) -> object:
    from vulntax.predictor import Predictor

    return Predictor("accurate", data_dir=data_dir)


@pytest.fixture(scope="module")
def default(data_dir: Path) -> object:
    from vulntax.predictor import Predictor

    return Predictor(None, data_dir=data_dir)


def test_it_is_the_default_model_plus_a_fine_tuned_part() -> None:
    folder = named.named_dir("accurate")
    model = load_model("accurate")
    assert model.kind == "composite"
    parts = model.parts  # type: ignore[attr-defined]
    assert parts["linear"].config == load_model(None).config  # the installed default, checked
    assert parts["finetuned"].kind == "multitask"
    assert parts["finetuned"].config["multitask"]["encoder"]["trained"] is True
    config = json.loads((folder / "config.json").read_text())
    assert config["heads"]["attack"] == "linear"
    assert set(config["heads"]["cwe"]) == set(config["heads"]["cvss"]) == set(parts)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert size <= 30e6, f"{size / 1e6:.1f} MB over the 30 MB budget"
    metrics = json.loads((folder / "metrics.json").read_text())
    for protocol in ("p1", "p2"):
        assert metrics[protocol]["accurate"]["all"]["cwe.path_violation_rate"] == 0


def test_it_answers_with_paths_scores_and_evidence(accurate: object, default: object) -> None:
    results = accurate.predict_batch([(None, t) for t in TEXTS])  # type: ignore[attr-defined]
    sqli = results[0]
    assert sqli["model"]["name"] == "vulntax-accurate"
    assert sqli["cwe"]["id"] == "CWE-89" and sqli["cwe"]["path"][-1] == "CWE-89"
    assert sqli["evidence"]["cwe"], "the linear part explains the answer"
    assert sqli["cvss"]["vector"].startswith("CVSS:3.1/AV:N/")
    assert 0 < sqli["cvss"]["base_score"] <= 10 and sqli["cvss"]["severity"]
    assert sqli["cvss4"]["vector"].startswith("CVSS:4.0/")
    assert results[1]["cwe"]["id"] == "CWE-416"
    # ATT&CK is the default model's own, unchanged
    plain = default.predict_batch([(None, t) for t in TEXTS])  # type: ignore[attr-defined]
    for ours, theirs in zip(results, plain, strict=True):
        assert ours["attack"] == theirs["attack"]


def test_non_vulnerability_texts_abstain(accurate: object) -> None:
    items = json.loads((HERE.parent / "trust" / "not_vulnerabilities.json").read_text())
    results = accurate.predict_batch([(i["kind"], i["text"]) for i in items])  # type: ignore[attr-defined]
    warned = [r for r in results if r["cwe"]["abstain"] and r["cvss"]["abstain"] and r["warnings"]]
    assert len(warned) >= len(items) - 1
    assert accurate.predict(SQLI)["warnings"] == []  # type: ignore[attr-defined]


def test_cli_batch_and_single(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"r{i}", "description": t}) for i, t in enumerate(TEXTS)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    command = [sys.executable, "-m", "vulntax", "predict", "--model", "accurate"]
    batch = subprocess.run(
        [*command, "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert batch.returncode == 0, batch.stderr
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in out] == ["r0", "r1", "r2"]
    assert out[0]["cwe"]["id"] == "CWE-89"
    single = subprocess.run(
        [*command, "--json", SQLI], capture_output=True, text=True, timeout=300, env=env
    )
    assert single.returncode == 0, single.stderr
    assert json.loads(single.stdout)["model"]["name"] == "vulntax-accurate"
