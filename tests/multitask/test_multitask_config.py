"""Config validation of the multitask kind: every bad setting is a ConfigError naming it."""

from __future__ import annotations

import pytest

from vulntax.errors import ConfigError
from vulntax.train import config_template, parse_config


def test_defaults_parse_and_template_lists_every_setting() -> None:
    config = parse_config({"kind": "multitask"})
    assert config.params.encoder == "minilm" and config.params.cross_attention
    text = config_template("multitask")
    assert "[multitask]" in text and "constraint_weight" in text and "progressive" in text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"epochs": 0}, "multitask.epochs must be at least 1"),
        ({"encoder": "bert"}, "multitask.encoder: expected one of"),
        ({"dropout": 1.5}, "multitask.dropout"),
        ({"progressive_epochs": 30, "epochs": 10}, "progressive_epochs must be fewer"),
        ({"pretrain_steps": 10}, "needs a trainable encoder"),
        ({"token_dim": 30, "attention_heads": 4}, "multiple of multitask.attention_heads"),
        ({"constraint_weight": -1.0}, "constraint_weight must not be negative"),
        ({"cwe_output": "tree"}, "multitask.cwe_output: expected one of"),
        ({"lr": "fast"}, "multitask.lr: expected a number"),
        ({"bogus": 1}, "unknown setting 'bogus'"),
        ({"max_length": 4}, "max_length must be between"),
    ],
)
def test_bad_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"kind": "multitask", "multitask": settings})


def test_scratch_encoder_may_pretrain() -> None:
    config = parse_config(
        {"kind": "multitask", "multitask": {"encoder": "scratch", "pretrain_steps": 5}}
    )
    assert config.params.trainable_encoder
