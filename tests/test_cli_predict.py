"""`vulntax predict` end to end, with the model shipped in the package."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "docs" / "prediction.schema.json").read_text())
SQLI = (
    "SQL injection vulnerability in login.php in Acme Portal 2.1 allows remote attackers to "
    "execute arbitrary SQL commands via the username parameter."
)


def vulntax(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vulntax", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
    )


def test_one_description_as_json() -> None:
    out = vulntax("predict", SQLI, "--json")
    assert out.returncode == 0, out.stderr
    prediction = json.loads(out.stdout)
    jsonschema.validate(prediction, SCHEMA)
    assert prediction["cwe"]["id"] == "CWE-89"
    assert prediction["cwe"]["path"] == ["CWE-707", "CWE-74", "CWE-943", "CWE-89"]
    assert prediction["cvss"]["metrics"]["AV"]["value"] == "N"


def test_panel_and_stdin() -> None:
    out = vulntax("predict", "-", stdin=SQLI)
    assert out.returncode == 0, out.stderr
    assert "CWE-89" in out.stdout and "CVSS 3.1" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("predict", "   "), "empty description"),
        (("predict",), "give either a description or --input FILE"),
        (("predict", "x", "--input", "y.jsonl"), "give either a description or --input FILE"),
        (("predict", "--input", "no/such/file.jsonl"), "no such file or folder"),
        (("predict", "x", "--model", "no/such/model"), "no such model directory"),
        (("predict", "--input", "x.jsonl", "--workers", "0"), "--workers must be between"),
    ],
)
def test_bad_input_is_one_line(args: tuple[str, ...], message: str) -> None:
    out = vulntax(*args)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_file_in_order_with_error_lines(tmp_path: Path) -> None:
    rows = [
        {"id": "A-1", "description": SQLI},
        {"id": "A-2", "description": ""},
        {"id": "A-3", "description": "A use-after-free in the font parser allows code execution."},
        {"id": "A-4", "description": "Cross-site scripting in the search box of Foo CMS."},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows * 300))
    outputs = []
    for workers in ("1", "2"):
        dst = tmp_path / f"out{workers}.jsonl"
        out = vulntax(
            "predict",
            "--input",
            str(src),
            "--output",
            str(dst),
            "--workers",
            workers,
            "--batch-size",
            "64",
            "-q",
        )
        assert out.returncode == 0, out.stderr
        assert "wrote 1,200 predictions" in out.stderr and "(300 records could not" in out.stderr
        lines = [json.loads(line) for line in dst.read_text().splitlines()]
        assert [line["id"] for line in lines] == [r["id"] for r in rows] * 300
        assert "error" in lines[1] and "cwe" in lines[0]
        for line in lines[:4]:
            jsonschema.validate(line, SCHEMA)
        outputs.append(dst.read_bytes())
    assert outputs[0] == outputs[1]  # workers change nothing but speed


def test_truncated_input_keeps_what_was_written(tmp_path: Path) -> None:
    # varied text, so that the gzip stream is long enough to hold whole batches before the cut
    payload = "".join(
        json.dumps({"id": f"T-{i}", "description": f"{SQLI} Ref {os.urandom(24).hex()}."}) + "\n"
        for i in range(6000)
    )
    data = gzip.compress(payload.encode())
    src = tmp_path / "cut.jsonl.gz"
    src.write_bytes(data[: len(data) * 2 // 3])
    dst = tmp_path / "out.jsonl"
    out = vulntax("predict", "--input", str(src), "--output", str(dst), "--workers", "1", "-q")
    assert out.returncode != 0
    assert "truncated" in out.stderr and "lines were written before this error" in out.stderr
    assert "Traceback" not in out.stderr
    written = dst.read_text().splitlines()
    assert written and all(json.loads(line)["cwe"]["id"] for line in written)


def test_panel_draws_the_path_as_a_tree_and_says_when_nothing_is_linked() -> None:
    from rich.console import Console

    from vulntax.predictor import Predictor
    from vulntax.render import prediction_panel

    predictor = Predictor()
    buffer = (
        "A stack-based buffer overflow in the web interface of Acme Router 1.2 allows remote "
        "attackers to execute arbitrary code via a long username parameter."
    )
    for text in (SQLI, buffer):
        prediction = predictor.predict(text)
        console = Console(width=120, record=True, color_system=None)
        console.print(prediction_panel(prediction, predictor.catalog))
        shown = console.export_text()
        path = prediction["cwe"]["path"]
        lines = [line for line in shown.splitlines() if "confidence" not in line]
        # one line per node, root first, each deeper node on a tree branch
        for depth, node in enumerate(path):
            line = next(line for line in lines if f"{node} " in line)
            assert ("└── " in line) == (depth > 0)
        for alternative in prediction["cwe"]["top"][1:]:
            if alternative["p"] < 0.01:
                assert f"{alternative['id']} {alternative['name']} (" not in shown
        if not prediction["capec"]:
            assert f"none linked to {prediction['cwe']['id']}" in shown
        else:
            assert prediction["capec"][0]["id"] in shown
