"""What travels to a device machine with a GPU pack: the checkout's files, counted as the
device tool counts them (tracked and untracked-not-ignored), and the warning when over."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vulntax.cli.finetune import DEVICE_LIMIT, _travelling_size
from vulntax.models.multitask.pack import repository_bytes


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src" / "vulntax" / "big_model").mkdir(parents=True)
    (root / "src" / "vulntax" / "big_model" / "weights.bin").write_bytes(b"x" * 3000)
    (root / "README.md").write_text("r" * 100)
    (root / ".gitignore").write_text("gpu-pack/\n")
    (root / "gpu-pack").mkdir()
    (root / "gpu-pack" / "encoder.bin").write_bytes(b"p" * 5000)  # ignored: carried instead
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "README.md", ".gitignore"], check=True)
    (root / "notes.txt").write_text("n" * 50)  # untracked, not ignored: travels too
    return root


def test_the_checkout_is_counted_as_the_device_tool_does(checkout: Path) -> None:
    found = repository_bytes(checkout / "gpu-pack")
    assert found is not None
    root, total, folders = found
    assert root.resolve() == checkout.resolve()
    assert total == 3000 + 100 + len("gpu-pack/\n") + 50
    assert folders == {"src/vulntax/big_model": 3000}


def test_outside_a_checkout_nothing_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert repository_bytes(tmp_path) is None
    _travelling_size(tmp_path / "pack", 10)
    assert capsys.readouterr().err == ""


def test_over_the_limit_names_what_to_move_aside(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _travelling_size(checkout / "gpu-pack", 1000)
    err = capsys.readouterr().err
    assert "device limit 64 MiB" in err and "over the limit" not in err
    _travelling_size(checkout / "gpu-pack", DEVICE_LIMIT - 1000)
    err = capsys.readouterr().err
    assert "over the limit" in err and "src/vulntax/big_model" in err
