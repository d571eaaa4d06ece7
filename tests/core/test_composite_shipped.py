"""Composite parts that are shipped models, referenced by name (models/composite.py), and
the tf-idf columns a composite passes on to the trust checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vulntax.errors import ModelError
from vulntax.models import load_model, named
from vulntax.models.composite import compose

TEXTS = [
    "SQL injection in login.php allows remote attackers to run SQL commands via the user field.",
    "A buffer overflow in the image parser allows local users to cause a denial of service.",
]
HEADS: dict[str, str | dict[str, float]] = {
    "cwe": {"shipped": 0.7, "copied": 0.3},
    "cvss": {"shipped": 0.6, "copied": 0.4},
    "capec": "shipped",
    "attack": "shipped",
}


@pytest.fixture
def package(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package folder whose shipped default model is a copy of the tiny model."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    shutil.copytree(tiny_model, pkg / "default_model")
    monkeypatch.setattr(named, "PACKAGE_DIR", pkg)
    return pkg


def test_a_shipped_part_is_referenced_not_copied(
    package: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = compose(tmp_path / "c", {"shipped": "default", "copied": tiny_model}, HEADS, "c", "1")
    config = json.loads((out / "config.json").read_text())
    reference = config["parts"]["shipped"]
    assert reference["shipped"] == "default"
    assert len(reference["config_sha256"]) == 64
    assert not (out / "parts" / "shipped").exists()
    assert (out / "parts" / "copied" / "config.json").is_file()
    # the same predictions as a composite holding its own copy of the part
    copy = compose(tmp_path / "k", {"shipped": tiny_model, "copied": tiny_model}, HEADS, "k", "1")
    got, want = load_model(out).predict_batch(TEXTS), load_model(copy).predict_batch(TEXTS)
    assert got.cwe is not None and want.cwe is not None
    np.testing.assert_allclose(got.cwe, want.cwe)
    for metric in want.cvss:
        np.testing.assert_allclose(got.cvss[metric], want.cvss[metric])
    # saving keeps the reference
    load_model(out).save(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert saved["parts"]["shipped"] == reference
    assert not (tmp_path / "saved" / "parts" / "shipped").exists()


def test_another_installed_model_is_a_clear_error(
    package: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = compose(tmp_path / "c", {"shipped": "default", "copied": tiny_model}, HEADS, "c", "1")
    config_file = package / "default_model" / "config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "version": "2"}))
    with pytest.raises(ModelError, match="made with another 'default' model"):
        load_model(out)
    shutil.rmtree(package / "default_model")
    with pytest.raises(ModelError, match="which this installation lacks"):
        load_model(out)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ({"shipped": "nightly"}, "names no shipped model"),
        ({"shipped": "accurate", "config_sha256": "0"}, "is the composite itself"),
    ],
)
def test_bad_shipped_references(
    package: Path, tiny_model: Path, reference: dict[str, str], message: str
) -> None:
    composite = package / "accurate_model"
    compose(composite, {"shipped": "default", "copied": tiny_model}, HEADS, "a", "1")
    config = json.loads((composite / "config.json").read_text())
    config["parts"]["shipped"] = reference
    (composite / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=message):
        load_model("accurate")


def test_composite_passes_on_tf_idf_columns_and_decoding(tiny_model: Path, tmp_path: Path) -> None:
    out = compose(tmp_path / "c", {"shipped": tiny_model, "copied": tiny_model}, HEADS, "c", "1")
    model = load_model(out)
    linear = load_model(tiny_model)
    assert model.features.terms == linear.features.terms  # type: ignore[attr-defined]
    assert model.features is model.parts["shipped"].features  # type: ignore[attr-defined]
    got = model.predict_batch(TEXTS).features
    want = linear.predict_batch(TEXTS).features
    assert got is not None and (got != want).nnz == 0
    assert model.config["decoding"] == linear.config["decoding"]
