"""What fine-tuning adds to the training loop: bucketed batches, the budget-fitted
schedule, checkpoints that resume, early stopping with the best weights kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vulntax.models.multitask import finetune as ft

from .conftest import TINY


def test_bucketed_batches_cover_every_row_once_with_little_padding() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 128, size=1000)
    batches = ft.bucketed_batches(1000, lengths, 16, np.random.default_rng(1), 0, 1)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(1000))
    padded = sum(len(b) * lengths[b].max() for b in batches)
    random = ft.bucketed_batches(1000, None, 16, np.random.default_rng(1), 0, 1)
    assert sorted(np.concatenate(random).tolist()) == list(range(1000))
    padded_random = sum(len(b) * lengths[b].max() for b in random)
    assert padded < 0.75 * padded_random  # the point of bucketing
    # two processes: as many batches each, no row twice
    a = ft.bucketed_batches(1000, lengths, 16, np.random.default_rng(1), 0, 2)
    b = ft.bucketed_batches(1000, lengths, 16, np.random.default_rng(1), 1, 2)
    assert len(a) == len(b)
    assert not set(np.concatenate(a)) & set(np.concatenate(b))


def test_schedule_warms_up_then_decays_to_zero_at_the_budget() -> None:
    layer = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(layer.parameters(), lr=1.0)
    schedule = ft.Schedule(optimizer, total_steps=100, minutes=0.0, warmup=0.1)
    seen = []
    for _ in range(100):
        schedule.step()
        seen.append(optimizer.param_groups[0]["lr"])
    assert max(seen) == pytest.approx(1.0, abs=0.02)
    assert seen.index(max(seen)) in range(8, 12)
    assert seen[-1] == 0.0
    # a wall-clock budget already spent: progress is 1 whatever the step count
    spent = ft.Schedule(optimizer, total_steps=100, minutes=1.0, warmup=0.1, spent_seconds=60)
    assert spent.progress() == 1.0


def _fit(mini_dataset: Path, data_dir: Path, params: dict[str, Any], log: Any) -> Any:
    from vulntax.dataset.store import load_dataset
    from vulntax.models.data import cwe_roll_up, load_examples
    from vulntax.models.multitask.model import MultitaskModel
    from vulntax.taxonomy import load_catalog
    from vulntax.train import parse_config

    config = parse_config({**TINY, "multitask": {**TINY["multitask"], **params}})
    dataset = load_dataset(mini_dataset)
    catalog = load_catalog(data_dir)
    train = load_examples(dataset, ["train"], config.data, training=True)
    cal = load_examples(dataset, ["validation"], config.data, training=False, sources=True)
    classes = cwe_roll_up([g[0] for g in train.cwe_gold if g], catalog.cwe, 3)
    meta = {"training": {"seed": 1}, "dataset": {"path": str(mini_dataset)}}
    return MultitaskModel.fit(meta, config.params, train, cal, classes, catalog, log=log)


def test_a_finished_run_resumes_from_its_checkpoint(
    mini_dataset: Path, data_dir: Path, tmp_path: Path
) -> None:
    params = {
        "pretrain_steps": 0,
        "distillation_mode": "online",
        "checkpoint_dir": str(tmp_path / "ckpt"),
        "eval_rows": 30,
        "epochs": 3,
        "progressive_epochs": 1,
    }
    first_log: list[str] = []
    first = _fit(mini_dataset, data_dir, params, first_log.append)
    assert (tmp_path / "ckpt" / "multitask.safetensors").is_file()
    assert any("validation score" in line for line in first_log)
    again_log: list[str] = []
    again = _fit(mini_dataset, data_dir, params, again_log.append)
    assert any("resumed from its checkpoint" in line for line in again_log), again_log
    # nothing was trained again: the same (best) weights come back
    for (name, a), (_, b) in zip(
        first.pipeline.state_dict().items(), again.pipeline.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    # other settings are another run: not resumed
    other_log: list[str] = []
    _fit(mini_dataset, data_dir, {**params, "lr": 1e-3}, other_log.append)
    assert not any("resumed" in line for line in other_log)


def test_early_stopping_keeps_the_best_weights() -> None:
    layer = torch.nn.Linear(1, 1)
    scores = iter([0.5, 0.7, 0.6, 0.55, 0.4])
    stopper = ft.EarlyStopping(lambda module: next(scores), layer, patience=2, log=lambda m: None)
    assert not stopper.check("a")
    with torch.no_grad():
        layer.weight.fill_(7.0)  # the weights scored 0.7
    assert not stopper.check("b")
    with torch.no_grad():
        layer.weight.fill_(-1.0)
    assert not stopper.check("c")
    assert stopper.check("d")  # two scores without gain
    stopper.restore()
    assert float(layer.weight) == 7.0


def test_a_resumed_run_does_not_pre_train_again(
    mini_dataset: Path, data_dir: Path, tmp_path: Path
) -> None:
    params = {
        "pretrain_steps": 4,
        "checkpoint_dir": str(tmp_path / "ckpt"),
        "epochs": 2,
        "progressive_epochs": 1,
        "teacher_epochs": 1,
    }
    first_log: list[str] = []
    _fit(mini_dataset, data_dir, params, first_log.append)
    assert any("pre-training the encoder: 4 steps" in line for line in first_log), first_log
    saved = tmp_path / "ckpt" / "pretrained-encoder.safetensors"
    assert saved.is_file()
    again_log: list[str] = []
    _fit(mini_dataset, data_dir, {**params, "max_minutes": 5.0}, again_log.append)
    assert any("pre-trained weights read from" in line for line in again_log), again_log
    assert not any("pre-training the encoder" in line for line in again_log)
    # a damaged file is not an error: the encoder is pre-trained again
    saved.write_bytes(b"not safetensors")
    damaged_log: list[str] = []
    _fit(mini_dataset, data_dir, params, damaged_log.append)
    assert any("pre-training the encoder: 4 steps" in line for line in damaged_log)
    # other pre-training settings are another run
    other_log: list[str] = []
    _fit(mini_dataset, data_dir, {**params, "pretrain_steps": 5}, other_log.append)
    assert any("pre-training the encoder: 5 steps" in line for line in other_log)
