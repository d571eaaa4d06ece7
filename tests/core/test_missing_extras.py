"""A model kind whose optional packages are missing: one line naming the extra, no 'bug'.

The packages are made unimportable in a fresh interpreter (``sys.modules[name] =
None`` is Python's own way to block an import), so the test behaves the same
whether or not the neural extra is installed here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vulntax.errors import MissingExtraError
from vulntax.models import missing_extra

RUN = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from vulntax.cli import main
main(sys.argv[2:])
"""


def _vulntax_without(packages: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN, packages, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _model_dir(tmp_path: Path, kind: str) -> Path:
    folder = tmp_path / kind
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"kind": kind, "format_version": 1}))
    return folder


@pytest.mark.parametrize("kind", ["lsnet", "multitask"])
@pytest.mark.parametrize("blocked", ["torch", "tokenizers"])
def test_predicting_with_a_torch_kind_names_the_extra(
    tmp_path: Path, kind: str, blocked: str
) -> None:
    model = _model_dir(tmp_path, kind)
    done = _vulntax_without(blocked, "predict", "--model", str(model), "SQL injection in a form")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"error: the {kind!r} model kind needs the package {blocked!r}, which is not "
        "installed: pip install 'vulntax[neural]'"
    ]
    assert "bug" not in done.stderr and "Traceback" not in done.stderr


def test_training_a_torch_kind_names_the_extra(tmp_path: Path) -> None:
    config = tmp_path / "lsnet.toml"
    config.write_text('kind = "lsnet"\nname = "x"\n')
    done = _vulntax_without(
        "tokenizers",
        "train",
        "--config",
        str(config),
        "--dataset",
        str(tmp_path),
        "--out",
        str(tmp_path / "out"),
    )
    assert done.returncode == 1
    assert "pip install 'vulntax[neural]'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "bug" not in done.stderr and "Traceback" not in done.stderr


def test_debug_still_shows_the_traceback(tmp_path: Path) -> None:
    model = _model_dir(tmp_path, "lsnet")
    done = _vulntax_without("torch", "predict", "--debug", "--model", str(model), "x")
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "MissingExtraError" in done.stderr


def test_an_optional_import_failing_deep_inside_is_named() -> None:
    deep = ModuleNotFoundError("No module named 'torch.nn'", name="torch.nn")
    error = missing_extra(deep)
    assert isinstance(error, MissingExtraError)
    assert error.package == "torch" and error.extra == "neural"
    assert missing_extra(ModuleNotFoundError("No module named 'yaml'", name="yaml")) is None


def test_the_linear_default_needs_no_extra() -> None:
    done = _vulntax_without("torch,tokenizers", "predict", "--json", "Heap overflow in libfoo")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cvss"]["vector"].startswith("CVSS:3.1/")
