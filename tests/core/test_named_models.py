"""Models chosen by name (models/named.py): 'default', and 'accurate' where it is shipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vulntax.errors import ModelError
from vulntax.models import DEFAULT_MODEL_DIR, load_model, named

SQLI = "SQL injection in login.php allows remote attackers to execute arbitrary SQL commands."
REPO = Path(__file__).resolve().parents[2]


def vulntax(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run(
        [sys.executable, "-m", "vulntax", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


def test_names_and_paths_resolve() -> None:
    assert named.resolve_model_dir(None) == DEFAULT_MODEL_DIR
    assert named.resolve_model_dir("default") == DEFAULT_MODEL_DIR
    assert named.resolve_model_dir("./accurate") == Path("./accurate")
    assert named.resolve_model_dir(Path("accurate")) == Path("accurate")  # a Path is a path
    assert named.resolve_model_dir("runs/x") == Path("runs/x")
    assert named.spelling(Path("accurate")) == f".{os.sep}accurate"
    assert named.spelling("accurate") == "accurate"


@pytest.fixture
def not_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A package folder without an accurate_model (whatever this checkout holds)."""
    monkeypatch.setattr(named, "PACKAGE_DIR", tmp_path / "pkg")


def test_accurate_not_shipped_is_one_clear_error(not_shipped: None) -> None:
    from vulntax.predictor import Predictor

    with pytest.raises(ModelError, match="the 'accurate' model is not part of this installation"):
        load_model("accurate")
    with pytest.raises(ModelError, match="not part of this installation"):
        Predictor("accurate")


def test_a_local_folder_named_like_a_model_is_hinted(
    not_shipped: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "accurate").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=r"write --model \./accurate"):
        named.resolve_model_dir("accurate")


def test_shipped_accurate_is_loaded_by_name(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    from vulntax.predictor import Predictor

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "accurate_model").symlink_to(tiny_model, target_is_directory=True)
    monkeypatch.setattr(named, "PACKAGE_DIR", tmp_path / "pkg")
    predictor = Predictor("accurate", data_dir=data_dir)
    assert predictor.model_info["name"] == "tiny-linear"
    assert predictor.source["model"] == "accurate"
    assert predictor.predict(SQLI)["cwe"]["id"].startswith("CWE-")
    # a folder spelt as a path wins over the name
    monkeypatch.chdir(tmp_path)
    (tmp_path / "accurate").symlink_to(DEFAULT_MODEL_DIR, target_is_directory=True)
    assert Predictor("./accurate", data_dir=data_dir).model_info["name"] != "tiny-linear"


WITHOUT_ACCURATE = """
import sys
from pathlib import Path
from vulntax.models import named
named.PACKAGE_DIR = Path(sys.argv[1])  # a package folder without an accurate_model
from vulntax.cli import main
main(sys.argv[2:])
"""


@pytest.mark.parametrize(
    "args",
    [
        ("predict", "--model", "accurate", SQLI),
        ("predict", "--model", "accurate", "--input", "x.jsonl"),
        ("serve", "--model", "accurate", "--port", "59321"),
        ("evaluate", "--model", "accurate", "--dataset", "x"),
    ],
)
def test_cli_says_accurate_is_not_shipped(args: tuple[str, ...], tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text('{"id": "a", "description": "' + SQLI + '"}\n')
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_ACCURATE, str(tmp_path / "pkg"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert "the 'accurate' model is not part of this installation" in lines[0]


def test_cli_default_by_name() -> None:
    out = vulntax("predict", "--model", "default", "--json", SQLI)
    assert out.returncode == 0, out.stderr
    assert '"CWE-89"' in out.stdout
