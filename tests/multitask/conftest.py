"""Fixtures of the multitask tests: a tiny from-scratch model trained on ~200 real records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "torch", reason="the multitask model needs torch (pip install 'vulntax[neural]')"
)
pytest.importorskip("tokenizers", reason="the multitask model needs tokenizers")

TINY: dict[str, Any] = {
    "kind": "multitask",
    "name": "tiny-multitask",
    "seed": 3,
    "data": {
        "cwe_window_years": 3.0,
        "cvss_window_years": 3.0,
        "cwe_min_count": 3,
        "max_examples": 240,
    },
    "multitask": {
        "encoder": "scratch",
        "scratch_vocab": 600,
        "scratch_layers": 1,
        "scratch_dim": 32,
        "scratch_heads": 2,
        "max_length": 48,
        "hidden": 32,
        "token_dim": 16,
        "attention_heads": 2,
        "epochs": 8,
        "progressive_epochs": 4,
        "teacher_epochs": 4,
        "batch_size": 32,
        "lr": 5e-3,
        "pretrain_lr": 2e-3,
        "pretrain_steps": 3,
        "pretrain_batch_size": 8,
        "threads": 2,
    },
}


@pytest.fixture(scope="session")
def catalog(data_dir: Path) -> Any:
    from vulntax.taxonomy import load_catalog

    return load_catalog(data_dir)


@pytest.fixture(scope="session")
def tiny_multitask(
    mini_dataset: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[str]]:
    """A tiny multitask model trained with `vulntax train`'s library call; and its log."""
    from vulntax.train import parse_config, train_model

    out = tmp_path_factory.mktemp("tiny-multitask")
    lines: list[str] = []
    train_model(parse_config(TINY), mini_dataset, out, data_dir=data_dir, log=lines.append)
    return out, lines
