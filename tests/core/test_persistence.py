"""One persistence path (vulntax.models.persistence) for every model kind.

Real small models (trained from a slice of the shared data) and the shipped model: each
kind's directory is rewritten byte for byte and reloads to the same predictions, and a
missing, truncated, corrupt or unpickling-bait file is refused with a ModelError that
names it.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vulntax.errors import ModelError
from vulntax.models import DEFAULT_MODEL_DIR, load_model

TEXTS = [
    "SQL injection in login.php allows remote attackers to execute arbitrary SQL commands "
    "via the username parameter.",
    "A local user can escalate privileges through a race condition in the kernel driver.",
    "Cross-site scripting in the search form allows injection of arbitrary web script.",
    "Heap overflow.",
]
PICKLE = b"\x80\x04\x95" + b"\x00" * 40  # the first bytes of a pickle


def _content(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data  # gzip headers hold a time


def _assert_same_files(written: Path, original: Path) -> list[str]:
    names = sorted(p.name for p in written.iterdir())
    assert names, f"nothing was written to {written}"
    for name in names:
        assert _content(written / name) == _content(original / name), f"{name} differs"
    return names


def _assert_same_output(a: Any, b: Any) -> None:
    for head in ("cwe", "capec", "attack"):
        x, y = getattr(a, head), getattr(b, head)
        assert (x is None) == (y is None), head
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=head)
    assert list(a.cvss) == list(b.cvss)
    for metric in a.cvss:
        np.testing.assert_array_equal(a.cvss[metric], b.cvss[metric], err_msg=metric)
    if a.cwe is not None:
        best = a.cwe.argmax(axis=1)
        assert a.explain("cwe", best, 5) == b.explain("cwe", best, 5)


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _rewrite_tensors(file: Path, change: Any) -> None:
    """Rewrite a weights file with ``change(tensors)`` applied (safetensors, numpy)."""
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(file))
    change(tensors)
    save_file(tensors, str(file))


# ---------------------------------------------------------------------- linear
def test_linear_model_is_rewritten_byte_for_byte(tiny_model: Path, tmp_path: Path) -> None:
    from vulntax.models.linear import LinearModel

    model = LinearModel.load(tiny_model)
    model.save(tmp_path / "copy")
    names = _assert_same_files(tmp_path / "copy", tiny_model)
    assert names == ["config.json", "labels.json", "vocabulary.json.gz", "weights.safetensors"]
    assert (tmp_path / "copy" / "weights.safetensors").stat().st_mode & 0o777 == 0o644
    _assert_same_output(
        model.predict_batch(TEXTS), load_model(tmp_path / "copy").predict_batch(TEXTS)
    )


def test_shipped_model_and_its_heads_are_rewritten_byte_for_byte(tmp_path: Path) -> None:
    from vulntax.models import attack_learnt, capec_rank
    from vulntax.models.cvss4_head import Cvss4Head
    from vulntax.models.linear import LinearModel
    from vulntax.models.metadata_head import MetadataHead

    src, out = DEFAULT_MODEL_DIR, tmp_path / "shipped"
    LinearModel.load(src, extras=False).save(out)
    full = LinearModel.load(src)

    def about(name: str, own: set[str]) -> dict[str, Any]:
        config = json.loads((src / name).read_text(encoding="utf-8"))
        return {k: v for k, v in config.items() if k not in own}

    assert full.attack_head is not None and full.capec_ranker is not None
    own = {"format", "format_version", "techniques", "settings"}
    attack_learnt.save(full.attack_head, out, about("attack.json", own))
    own = {"format", "format_version", "features", "top_cwe"}
    capec_rank.save(full.capec_ranker, out, about("capec_rank.json", own))
    cvss4, metadata = Cvss4Head.load(src), MetadataHead.load(src)
    assert cvss4 is not None and metadata is not None
    cvss4.save(out)
    metadata.save(out)

    names = _assert_same_files(out, src)
    assert len(names) == 12  # the model's 4 files and 2 for each of its 4 optional heads
    _assert_same_output(load_model(src).predict_batch(TEXTS), load_model(out).predict_batch(TEXTS))


def test_a_model_loaded_with_its_heads_saves_a_copy_that_loads(tmp_path: Path) -> None:
    from vulntax.models.linear import LinearModel

    model = LinearModel.load(DEFAULT_MODEL_DIR)
    assert model.labels.attack != model.own_labels.attack  # the learnt head widened them
    model.save(tmp_path / "copy")
    names = _assert_same_files(tmp_path / "copy", DEFAULT_MODEL_DIR)
    assert names == [
        "attack.json",
        "attack.safetensors",
        "capec_rank.json",
        "capec_rank.safetensors",
        "config.json",
        "labels.json",
        "vocabulary.json.gz",
        "weights.safetensors",
    ]
    again = LinearModel.load(tmp_path / "copy")
    _assert_same_output(model.predict_batch(TEXTS), again.predict_batch(TEXTS))
    again.save(tmp_path / "copy")  # onto itself: nothing to copy, the same files
    assert _assert_same_files(tmp_path / "copy", DEFAULT_MODEL_DIR) == names


def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("weights.safetensors", _truncate, "not a readable safetensors file"),
        ("weights.safetensors", lambda f: f.write_bytes(PICKLE), "not a readable safetensors"),
        ("weights.safetensors", Path.unlink, r"weights\.safetensors is missing"),
        ("labels.json", Path.unlink, r"labels\.json is missing"),
        ("labels.json", _truncate, "cannot read the label lists"),
        ("config.json", _truncate, "cannot read the model config"),
        ("vocabulary.json.gz", Path.unlink, r"vocabulary\.json\.gz is missing"),
        ("vocabulary.json.gz", _truncate, "cannot read the vocabulary"),
    ],
)
def test_damaged_linear_files_are_refused(
    tiny_model: Path, tmp_path: Path, name: str, damage: Any, message: str
) -> None:
    broken = _copy(tiny_model, tmp_path / "broken")
    damage(broken / name)
    with pytest.raises(ModelError, match=message) as caught:
        load_model(broken)
    assert str(broken) in str(caught.value)  # the message says where


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.pop("cwe.bias"), r"tensor 'cwe\.bias' is missing"),
        (lambda t: t.update({"cwe.bias": t["cwe.bias"][:-1]}), r"'cwe\.bias' has shape"),
        (lambda t: t.update({"cvss.AV.temperature": np.ones(2, np.float32)}), "temperature"),
        (
            lambda t: t.update({"capec.links.indptr": t["capec.links.indptr"][:-1]}),
            r"stored matrix 'capec\.links' does not fit the label lists",
        ),
        (lambda t: t.pop("tfidf.idf"), r"tensor 'tfidf\.idf' is missing"),
    ],
)
def test_tensors_of_the_wrong_name_or_shape_are_refused(
    tiny_model: Path, tmp_path: Path, change: Any, message: str
) -> None:
    broken = _copy(tiny_model, tmp_path / "broken")
    _rewrite_tensors(broken / "weights.safetensors", change)
    with pytest.raises(ModelError, match=message) as caught:
        load_model(broken)
    assert str(broken / "weights.safetensors") in str(caught.value)


def test_optional_heads_come_in_pairs_and_must_fit(tiny_model: Path, tmp_path: Path) -> None:
    from vulntax.models.cvss4_head import Cvss4Head
    from vulntax.models.linear import LinearModel

    model = _copy(tiny_model, tmp_path / "model")
    shutil.copy(DEFAULT_MODEL_DIR / "attack.safetensors", model)
    with pytest.raises(ModelError, match=r"come together \(attack\.json is missing\)"):
        LinearModel.load(model)
    shutil.copy(DEFAULT_MODEL_DIR / "attack.json", model)  # the shipped model's head
    with pytest.raises(ModelError, match="does not fit this model's labels"):
        LinearModel.load(model)
    assert LinearModel.load(model, extras=False).attack_head is None

    shutil.copy(DEFAULT_MODEL_DIR / "cvss4.json", model)
    with pytest.raises(ModelError, match=r"come together \(cvss4\.safetensors is missing\)"):
        Cvss4Head.load(model)
    (model / "cvss4.safetensors").write_bytes(PICKLE)
    with pytest.raises(ModelError, match=r"corrupt CVSS v4\.0 head.*not a readable safetensors"):
        Cvss4Head.load(model)
    shutil.copy(DEFAULT_MODEL_DIR / "cvss4.safetensors", model)
    _rewrite_tensors(model / "cvss4.safetensors", lambda t: t.pop("AV.bias"))
    with pytest.raises(ModelError, match=r"tensor 'AV\.bias' is missing"):
        Cvss4Head.load(model)


# ---------------------------------------------------------------------- torch kinds
TINY_LSNET: dict[str, Any] = {
    "kind": "lsnet",
    "name": "persist-lsnet",
    "seed": 1,
    "data": {"max_examples": 200},
    "lsnet": {
        "vocab": 300,
        "max_length": 32,
        "dim": 16,
        "heads": 2,
        "filters": 4,
        "hidden": 8,
        "clusters": 2,
        "cluster_components": 4,
        "cluster_features": 500,
        "cluster_sample": 100,
        "epochs": 1,
        "batch_size": 32,
        "threads": 2,
    },
}
TINY_MULTITASK: dict[str, Any] = {
    "kind": "multitask",
    "name": "persist-multitask",
    "seed": 3,
    "data": {"cwe_window_years": 3.0, "cwe_min_count": 3, "max_examples": 160},
    "multitask": {
        "encoder": "scratch",
        "scratch_vocab": 300,
        "scratch_layers": 1,
        "scratch_dim": 16,
        "scratch_heads": 2,
        "max_length": 32,
        "hidden": 16,
        "token_dim": 8,
        "attention_heads": 2,
        "epochs": 2,
        "progressive_epochs": 1,
        "teacher_epochs": 1,
        "batch_size": 32,
        "threads": 2,
    },
}


@pytest.fixture(scope="module", params=["lsnet", "multitask"])
def torch_model(
    request: pytest.FixtureRequest,
    mini_dataset: Path,
    data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A tiny model of a torch kind, trained on the mini dataset."""
    pytest.importorskip("torch", reason="the torch kinds need torch (vulntax[neural])")
    pytest.importorskip("tokenizers", reason="the torch kinds need tokenizers")
    from vulntax.train import parse_config, train_model

    config = TINY_LSNET if request.param == "lsnet" else TINY_MULTITASK
    out = tmp_path_factory.mktemp(f"persist-{request.param}")
    train_model(parse_config(config), mini_dataset, out, data_dir=data_dir, log=lambda m: None)
    return out


def test_torch_model_is_rewritten_byte_for_byte(torch_model: Path, tmp_path: Path) -> None:
    model = load_model(torch_model)
    model.save(tmp_path / "copy")
    names = set(_assert_same_files(tmp_path / "copy", torch_model))
    expected = {"config.json", "labels.json", "tokenizer.json", "weights.safetensors"}
    assert names == expected | ({"hierarchy.json"} if model.kind == "multitask" else set())
    assert (tmp_path / "copy" / "weights.safetensors").stat().st_mode & 0o777 == 0o644
    _assert_same_output(
        model.predict_batch(TEXTS), load_model(tmp_path / "copy").predict_batch(TEXTS)
    )


def test_damaged_torch_model_files_are_refused(torch_model: Path, tmp_path: Path) -> None:
    def fresh() -> Path:
        shutil.rmtree(tmp_path / "broken", ignore_errors=True)
        return _copy(torch_model, tmp_path / "broken")

    _truncate(fresh() / "weights.safetensors")
    with pytest.raises(ModelError, match=r"weights\.safetensors: not a readable safetensors"):
        load_model(tmp_path / "broken")
    (fresh() / "weights.safetensors").write_bytes(PICKLE)
    with pytest.raises(ModelError, match="not a readable safetensors file"):
        load_model(tmp_path / "broken")
    (fresh() / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match=r"not a complete model directory \(tokenizer\.json"):
        load_model(tmp_path / "broken")

    def drop_a_net_tensor(tensors: dict[str, Any]) -> None:
        tensors.pop(next(k for k in sorted(tensors) if k.startswith("net.")))

    _rewrite_tensors(fresh() / "weights.safetensors", drop_a_net_tensor)
    with pytest.raises(ModelError, match="do not fit"):
        load_model(tmp_path / "broken")
