"""Distillation into the linear model (vulntax.models.distill), with a real tiny teacher."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vulntax.errors import ModelError
from vulntax.models import load_model
from vulntax.models.distill import Mix, fit_distilled, mixed_targets, prepare
from vulntax.models.distill_run import Session, fit_and_save, model_meta, open_session
from vulntax.models.linear import LinearModel
from vulntax.models.teacher import teacher_labels
from vulntax.predictor import Predictor

TEXT = "SQL injection in the login form allows remote attackers to execute arbitrary SQL commands."


@pytest.fixture(scope="module")
def session(
    mini_dataset: Path, tiny_model: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Session:
    from tests.conftest import TINY_LINEAR_CONFIG

    from vulntax.train import parse_config

    cache = tmp_path_factory.mktemp("distill-cache")
    return open_session(
        parse_config(TINY_LINEAR_CONFIG), mini_dataset, tiny_model, data_dir, cache, log=_quiet
    )


def _quiet(*_: Any) -> None:
    pass


def _heads(model: LinearModel) -> dict[str, Any]:
    return {"cwe": model.cwe, **model.cvss}


def test_distilled_model_is_a_normal_model_directory(
    session: Session, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "distilled"
    metrics = fit_and_save(session, Mix("soft", alpha=0.5), out, log=_quiet)
    assert {p.name for p in out.iterdir()} == {
        "config.json", "labels.json", "weights.safetensors", "vocabulary.json.gz",
        "metrics.json", "README.md",
    }  # fmt: skip
    assert metrics["split"] == "validation" and "cwe_top1" in metrics["summary"]
    config = json.loads((out / "config.json").read_text())
    assert config["distillation"]["mix"] == {
        "kind": "soft", "alpha": 0.5, "top_k": 3, "min_p": 0.05, "confidence": 0.5,
        "heads": ["cwe", "cvss"], "newest": None,
    }  # fmt: skip
    model = load_model(out)
    assert isinstance(model, LinearModel)
    out_probs = model.predict_batch([TEXT])
    assert out_probs.cwe is not None and np.allclose(out_probs.cwe.sum(axis=1), 1, atol=1e-4)
    prediction = Predictor(out).predict(TEXT)
    assert prediction["cvss"]["vector"].startswith("CVSS:3.1/")


def test_alpha_zero_is_the_plain_fit_and_alpha_changes_it(session: Session) -> None:
    s = session
    meta = model_meta(s, Mix("soft", 0.0))
    np.random.seed(0)  # LinearSVC's dual solver shuffles with numpy's global generator
    plain = LinearModel.fit(
        meta, s.config.params, s.train, s.calibration, s.prepared.classes, s.catalog, log=_quiet
    )
    fits = {}
    for mix in (Mix("soft", 0.0), Mix("fill", 0.0), Mix("soft", 0.5), Mix("fill", 1.0)):
        np.random.seed(0)
        fits[mix.name] = fit_distilled(
            meta, s.config.params, s.prepared, mix, s.train, s.calibration, s.catalog, _quiet
        )
    assert plain.labels == fits["soft-0"].labels
    for name in ("soft-0", "fill-0"):
        for head, ours in _heads(fits[name]).items():
            theirs = _heads(plain)[head]
            assert (ours.weights != theirs.weights).nnz == 0, (name, head)
            assert np.array_equal(ours.bias, theirs.bias), (name, head)
            assert ours.temperature == theirs.temperature, (name, head)
    for name in ("soft-0.5", "fill-1"):  # the teacher's rows change every head
        for head, ours in _heads(fits[name]).items():
            assert (ours.weights != _heads(plain)[head].weights).nnz > 0, (name, head)


def test_mixed_targets_weights() -> None:
    index = np.array([[1, 0], [2, 1], [0, 2]])
    p = np.array([[0.9, 0.1], [0.6, 0.3], [0.4, 0.02]], dtype=np.float32)
    soft = mixed_targets([0, 1], [1, 1], index, p, Mix("soft", 0.25, top_k=2, min_p=0.05))
    assert soft.rows.tolist() == [0, 1, 0, 0, 1, 1, 2]
    assert soft.y.tolist() == [1, 1, 1, 0, 2, 1, 0]
    assert soft.weight is not None
    assert np.allclose(soft.weight, [0.75, 0.75, 0.225, 0.025, 0.15, 0.075, 0.1])
    fill = mixed_targets([0], [1], index, p, Mix("fill", 0.5, confidence=0.5))
    assert fill.rows.tolist() == [0, 1] and fill.y.tolist() == [1, 2]
    assert fill.weight is not None and fill.weight.tolist() == [1.0, 0.5]
    recent = mixed_targets([0], [1], index, p, Mix("soft", 0.5, top_k=1, newest=1))
    assert recent.rows.tolist() == [0, 2] and recent.y.tolist() == [1, 0]


def test_teacher_labels_are_cached_as_safetensors(session: Session, tiny_model: Path) -> None:
    assert session.cache_dir is not None
    files = list(session.cache_dir.iterdir())
    assert [f.suffix for f in files] == [".safetensors"]
    said: list[str] = []
    again = teacher_labels(tiny_model, session.train.texts, session.cache_dir, log=said.append)
    assert said and "cache" in said[0]
    assert np.array_equal(again.cwe_index, session.teacher.cwe_index)
    assert np.array_equal(again.cvss["AV"][1], session.teacher.cvss["AV"][1])
    fresh = teacher_labels(tiny_model, session.train.texts[:50], None, log=_quiet)
    assert np.array_equal(fresh.cwe_p, session.teacher.cwe_p[:50])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda labels: labels["cvss"].update(AV=["N", "A", "L", "X"]), "CVSS AV values"),
        (
            lambda labels: labels.update(cwe=[f"CWE-9{i:05d}" for i in range(len(labels["cwe"]))]),
            "CWE labels do not fit",
        ),
    ],
)
def test_teacher_over_other_labels_is_refused(
    session: Session, tiny_model: Path, tmp_path: Path, edit: Any, message: str
) -> None:
    teacher = tmp_path / "teacher"
    shutil.copytree(tiny_model, teacher)
    labels = json.loads((teacher / "labels.json").read_text())
    edit(labels)
    (teacher / "labels.json").write_text(json.dumps(labels))
    s = session
    other = teacher_labels(teacher, s.train.texts, None, log=_quiet)
    with pytest.raises(ModelError, match=message):
        prepare(s.config.params, s.train, s.calibration, s.prepared.classes, s.catalog, other)


def test_a_teacher_limited_to_the_newest_rows_leaves_older_rows_untaught() -> None:
    import numpy as np

    from vulntax.models.distill_run import pad_front
    from vulntax.models.teacher import TeacherLabels

    labels = TeacherLabels(
        ["CWE-79", "CWE-89"],
        np.array([[1, 0]], dtype=np.int32),
        np.array([[0.9, 0.1]], dtype=np.float32),
        {"AV": (["N", "L"], np.array([[0.8, 0.2]], dtype=np.float32))},
        "fingerprint",
    )
    padded = pad_front(labels, 3)
    assert len(padded) == 4
    assert not padded.cwe_p[:3].any() and not padded.cvss["AV"][1][:3].any()
    assert padded.cwe_p[3].tolist() == pytest.approx([0.9, 0.1])
    assert padded.cvss["AV"][0] == ["N", "L"]
