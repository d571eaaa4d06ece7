from __future__ import annotations

from pathlib import Path

import pytest

from vulntax.errors import ConfigError
from vulntax.train import config_template, load_config, parse_config


def test_defaults() -> None:
    config = parse_config({})
    assert config.kind == "linear"
    assert config.data.cwe_min_count == 5
    assert config.params.max_features == 150_000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kindd": "linear"}, "unknown setting 'kindd'"),
        ({"kind": "nope"}, "unknown model kind 'nope'"),
        ({"linear": {"C_cwe": "high"}}, "linear.C_cwe: expected a number, got str 'high'"),
        ({"linear": {"keep_weights": 2}}, "keep_weights must be in (0, 1]"),
        ({"data": {"cwe_window_years": -1}}, "cwe_window_years must be positive"),
        ({"data": {"refit_splits": ["everything"]}}, "unknown split 'everything'"),
        ({"data": {"cwe_min_count": 1.5}}, "data.cwe_min_count: expected a whole number"),
        ({"data": {"train_splits": "train"}}, "data.train_splits: expected a list"),
        ({"data": {"calibration_split": "train"}}, "calibration_split must not be one of"),
        ({"decoding": {"top_k": True}}, "decoding.top_k: expected a whole number"),
    ],
)
def test_bad_configs_fail_loudly(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        parse_config(data)
    assert message in str(info.value)


def test_template_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "linear.toml"
    path.write_text(config_template("linear"))
    config = load_config(path)
    assert config.to_dict() == parse_config({"name": "vulntax-linear"}).to_dict()


def test_unreadable_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("kind = ")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
