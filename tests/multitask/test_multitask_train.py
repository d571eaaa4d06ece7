"""A tiny multitask model trains end to end on real records, round-trips, and keeps paths valid."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vulntax.errors import ModelError
from vulntax.models import load_model
from vulntax.models.multitask.hierarchy import independent_argmax, top_down, violations
from vulntax.predictor import Predictor

TEXTS = [
    "SQL injection in the login form of Acme Portal allows remote attackers to execute "
    "arbitrary SQL commands via the username parameter.",
    "A cross-site scripting (XSS) vulnerability in the search page allows attackers to inject "
    "arbitrary web script.",
    "A buffer overflow in the image parser allows local users to cause a denial of service.",
    "Improper authorization in the admin API lets authenticated users read other accounts.",
]


def test_training_loss_falls(tiny_multitask: tuple[Path, list[str]]) -> None:
    path, lines = tiny_multitask
    model = load_model(path)
    assert model.kind == "multitask"
    logged = "\n".join(lines)
    assert "pre-training step" in logged and "teacher epoch" in logged
    # the student's losses are logged per phase; the saved config keeps the history too
    student = [line for line in lines if line.startswith("multitask epoch")]
    assert student, logged


def test_loss_falls_and_round_trip_is_identical(
    mini_dataset: Path, data_dir: Path, tmp_path: Path
) -> None:
    from vulntax.dataset.store import load_dataset
    from vulntax.models.data import cwe_roll_up, load_examples
    from vulntax.models.multitask.model import MultitaskModel
    from vulntax.taxonomy import load_catalog
    from vulntax.train import parse_config

    from .conftest import TINY

    config = parse_config({**TINY, "multitask": {**TINY["multitask"], "pretrain_steps": 0}})
    dataset = load_dataset(mini_dataset)
    catalog = load_catalog(data_dir)
    train = load_examples(dataset, ["train"], config.data, training=True)
    cal = load_examples(dataset, ["validation"], config.data, training=False, sources=True)
    classes = cwe_roll_up([g[0] for g in train.cwe_gold if g], catalog.cwe, 3)
    meta = {"training": {"seed": 1}, "dataset": {"path": str(mini_dataset)}}
    model = MultitaskModel.fit(
        meta, config.params, train, cal, classes, catalog, log=lambda m: None
    )
    teacher, student = model.history["teacher"], model.history["student"]
    assert teacher[-1] < teacher[0], teacher
    # the student's loss gains terms while the progressive schedule adds CWE levels:
    # compare from the epoch where every term is in
    settled = config.params.progressive_epochs
    assert student[-1] < student[settled], student
    before = model.predict_batch(TEXTS)
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m").predict_batch(TEXTS)
    assert before.cwe is not None and again.cwe is not None
    np.testing.assert_array_equal(before.cwe, again.cwe)
    for metric in before.cvss:
        np.testing.assert_array_equal(before.cvss[metric], again.cvss[metric])
    np.testing.assert_array_equal(before.attack, again.attack)
    np.testing.assert_allclose(before.cwe.sum(1), 1.0, rtol=1e-5)


def test_no_returned_path_breaks_the_hierarchy(
    tiny_multitask: tuple[Path, list[str]], mini_dataset: Path, data_dir: Path, catalog: Any
) -> None:
    from vulntax.dataset.store import load_dataset

    path, _ = tiny_multitask
    predictor = Predictor(path, data_dir=data_dir)
    texts = load_dataset(mini_dataset).columns("test", ["description"])["description"][:150]
    results = predictor.predict_batch([(None, t) for t in [*TEXTS, *texts]])
    for r in results:
        assert catalog.cwe.is_path(r["cwe"]["path"]), r["cwe"]
        assert r["cvss"]["vector"].startswith("CVSS:3.1/")
        assert all(0 <= t["p"] <= 1 for t in r["attack"])
    # the model's own decodings: top-down never violates the tree
    model = predictor.model
    logits = model.logits(texts)  # type: ignore[attr-defined]
    probs = [np.exp(z - z.max(1, keepdims=True)) for z in logits["levels"]]
    probs = [p / p.sum(1, keepdims=True) for p in probs]
    assert not violations(model.hierarchy, top_down(model.hierarchy, probs)).any()  # type: ignore[attr-defined]
    assert independent_argmax(probs).shape == (len(texts), model.hierarchy.depth)  # type: ignore[attr-defined]


def test_damaged_model_directories_are_refused(
    tiny_multitask: tuple[Path, list[str]], tmp_path: Path
) -> None:
    path, _ = tiny_multitask
    broken = tmp_path / "broken"
    shutil.copytree(path, broken)
    (broken / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match=r"tokenizer\.json is missing"):
        load_model(broken)
    shutil.rmtree(broken)
    shutil.copytree(path, broken)
    (broken / "weights.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelError, match="not a readable safetensors"):
        load_model(broken)
    shutil.rmtree(broken)
    shutil.copytree(path, broken)
    labels = json.loads((broken / "labels.json").read_text())
    labels["capec"] = labels["capec"][:-1]
    (broken / "labels.json").write_text(json.dumps(labels))
    with pytest.raises(ModelError, match="do not fit the labels"):
        load_model(broken)
