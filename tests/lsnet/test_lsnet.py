"""The LSNet model kind: a tiny model trained on real records, its cluster bias, persistence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch", reason="the lsnet model needs torch (pip install 'vulntax[neural]')")
pytest.importorskip("tokenizers", reason="the lsnet model needs tokenizers")

import torch

from vulntax.errors import ConfigError, ModelError
from vulntax.models import load_model

TINY: dict[str, Any] = {
    "kind": "lsnet",
    "name": "tiny-lsnet",
    "seed": 1,
    "data": {"max_examples": 400},
    "lsnet": {
        "vocab": 400,
        "max_length": 64,
        "dim": 32,
        "heads": 2,
        "filters": 8,
        "hidden": 16,
        "clusters": 3,
        "cluster_components": 8,
        "cluster_features": 2000,
        "cluster_sample": 300,
        "epochs": 4,
        "batch_size": 32,
        "lr": 3e-3,
        "threads": 2,
        "log_every": 0,
    },
}

TEXTS = [
    "SQL injection in login.php allows remote attackers to execute arbitrary SQL commands "
    "via the username parameter.",
    "A local user can escalate privileges through a race condition in the kernel driver.",
    "Cross-site scripting in the search form allows injection of arbitrary web script.",
    "Heap overflow.",
]


def _tiny(mini_dataset: Path, data_dir: Path, out: Path, **lsnet: Any) -> dict[str, Any]:
    from vulntax.train import parse_config, train_model

    config = json.loads(json.dumps(TINY))
    config["lsnet"].update(lsnet)
    return train_model(parse_config(config), mini_dataset, out, data_dir=data_dir, log=print)


@pytest.fixture(scope="module")
def tiny_lsnet(
    mini_dataset: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("tiny-lsnet")
    _tiny(mini_dataset, data_dir, out)
    return out


def test_loss_falls_and_cvss_figures_are_measured(tiny_lsnet: Path) -> None:
    config = json.loads((tiny_lsnet / "config.json").read_text())
    losses = config["lsnet_history"]["epoch_loss"]
    assert len(losses) == 4
    assert losses[-1] < 0.9 * losses[0]
    metrics = json.loads((tiny_lsnet / "metrics.json").read_text())
    summary = metrics["summary"]
    assert set(summary) == {
        "cvss_mean_metric_accuracy",
        "cvss_exact_vector",
        "cvss_base_score_mae",
        "cvss_severity_accuracy",
    }
    assert 0 < summary["cvss_mean_metric_accuracy"]["model"] <= 1
    assert summary["cvss_mean_metric_accuracy"]["baseline"] is not None
    assert metrics["cvss"]["overall"]["model"]["records"] > 100


def test_round_trip_gives_identical_predictions(tiny_lsnet: Path, tmp_path: Path) -> None:
    model = load_model(tiny_lsnet)
    first = model.predict_batch(TEXTS)
    assert first.cwe is None
    assert set(first.cvss) == {"AV", "AC", "PR", "UI", "S", "C", "I", "A"}
    for probs in first.cvss.values():
        assert probs.shape[0] == len(TEXTS)
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    model.save(tmp_path / "again")
    second = load_model(tmp_path / "again").predict_batch(TEXTS)
    for metric, probs in first.cvss.items():
        assert np.array_equal(probs, second.cvss[metric])
    # one text at a time gives what the batch gave (padding never leaks into the answer)
    alone = model.predict_batch(TEXTS[3:])
    assert np.allclose(alone.cvss["AV"], first.cvss["AV"][3:], atol=1e-5)


def test_cluster_bias_is_what_the_membership_adds(tiny_lsnet: Path) -> None:
    from vulntax.models.lsnet.training import pad, token_ids

    model: Any = load_model(tiny_lsnet)
    net = model.net
    assert net.cluster_weights is not None
    ids, mask = pad(token_ids(model.tokenizer, TEXTS[:1]))
    k = model.space.clusters
    with torch.inference_mode():
        # the bias term is W_k m: with W_k set to zero, membership has no effect
        saved = [w.detach().clone() for w in net.cluster_weights]
        for w in net.cluster_weights:
            w.zero_()
        a = net(ids, mask, torch.eye(k)[:1])["AV"]
        b = net(ids, mask, torch.eye(k)[1:2])["AV"]
        assert torch.allclose(a, b)
        for w, value in zip(net.cluster_weights, saved, strict=True):
            w.copy_(value)
        for w in net.cluster_weights:
            w.fill_(5.0)
            w[:, 0] = -5.0
        a = net(ids, mask, torch.eye(k)[:1])["AV"]
        b = net(ids, mask, torch.eye(k)[1:2])["AV"]
        assert not torch.allclose(a, b)
    membership = model.space.memberships(TEXTS)
    assert membership.shape == (len(TEXTS), k)
    assert np.allclose(membership.sum(axis=1), 1.0, atol=1e-5)


def test_without_cluster_bias_there_are_no_cluster_weights(
    mini_dataset: Path, data_dir: Path, tmp_path: Path
) -> None:
    _tiny(mini_dataset, data_dir, tmp_path, cluster_bias=False, epochs=1)
    model: Any = load_model(tmp_path)
    assert model.net.cluster_weights is None
    assert not any("cluster_weights" in name for name, _ in model.net.named_parameters())


def test_serves_cvss_inside_a_composite(tiny_lsnet: Path, tiny_model: Path, tmp_path: Path) -> None:
    from vulntax.models.composite import compose
    from vulntax.predictor import Predictor

    heads = {"cwe": "linear", "cvss": "lsnet", "capec": "linear", "attack": "linear"}
    out = compose(
        tmp_path / "combo", {"linear": tiny_model, "lsnet": tiny_lsnet}, heads, "combo", "1"
    )
    result = Predictor(out).predict(TEXTS[0])
    lsnet = load_model(tiny_lsnet).predict_batch(TEXTS[:1])
    av = result["cvss"]["metrics"]["AV"]
    assert av["p"] == pytest.approx(float(lsnet.cvss["AV"].max()), abs=1e-4)
    assert result["cvss"]["vector"].startswith("CVSS:3.1/AV:")
    assert result["cwe"]["path"]


def test_a_cvss_only_model_alone_is_refused_by_the_predictor(tiny_lsnet: Path) -> None:
    from vulntax.predictor import Predictor

    with pytest.raises(ModelError, match="inside a composite"):
        Predictor(tiny_lsnet).predict(TEXTS[0])


def test_damaged_model_directories_are_refused(tiny_lsnet: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"

    def fresh() -> Path:
        if broken.exists():
            shutil.rmtree(broken)
        shutil.copytree(tiny_lsnet, broken)
        return broken

    (fresh() / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match=r"tokenizer\.json is missing"):
        load_model(broken)
    (fresh() / "weights.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelError, match="not a readable safetensors"):
        load_model(broken)
    config = json.loads((fresh() / "config.json").read_text())
    config["lsnet"]["params"]["filters"] += 1
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="do not fit"):
        load_model(broken)
    config = json.loads((fresh() / "config.json").read_text())
    config["lsnet"]["space"]["terms"] = config["lsnet"]["space"]["terms"][:-1]
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="cluster space"):
        load_model(broken)
    config = json.loads((fresh() / "config.json").read_text())
    del config["lsnet"]
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="no 'lsnet' section"):
        load_model(broken)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"dim": 30, "heads": 4}, "multiple of lsnet.heads"),
        ({"kernel_sizes": [2, 3]}, "four sizes"),
        ({"clusters": 1}, "clusters must be at least 2"),
        ({"max_minutes": 0}, "max_minutes must be positive"),
        ({"dropout": 1.0}, "dropout"),
        ({"filterz": 3}, "filterz"),
    ],
)
def test_bad_settings_are_config_errors(setting: dict[str, Any], message: str) -> None:
    from vulntax.train import parse_config

    config = json.loads(json.dumps(TINY))
    config["lsnet"].update(setting)
    with pytest.raises(ConfigError, match=message):
        parse_config(config)
