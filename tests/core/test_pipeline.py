"""Dataset → training → prediction on the miniature real data."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from vulntax.dataset.store import load_dataset
from vulntax.errors import DatasetError, ModelError
from vulntax.models import load_model
from vulntax.predictor import Predictor

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "prediction.schema.json").read_text())


def test_dataset_manifest_and_splits(mini_dataset: Path) -> None:
    ds = load_dataset(mini_dataset)
    m = ds.manifest
    assert m["counts"]["examples"] == ds.manifest["files"]["examples.parquet"]["rows"]
    assert set(m["counts"]["by_split"]) <= {"train", "validation", "test", "undated"}
    rows = ds.columns(columns=["id", "published", "split", "cwe", "cwe_raw", "AV", "cvss_vector"])
    for split, published in zip(rows["split"], rows["published"], strict=True):
        if split == "train":
            assert published.isoformat() < "2022-01-01"
        if split == "test":
            assert published.isoformat() >= "2022-07-01"
    # policy: no placeholder or category survives into the mapped labels
    assert not any(c.startswith("NVD-") for labels in rows["cwe"] for c in labels)
    assert any(c.startswith("NVD-") for labels in rows["cwe_raw"] for c in labels)
    # a metric column is filled exactly when there is a vector
    assert all(
        (v is None) == (av is None) for v, av in zip(rows["cvss_vector"], rows["AV"], strict=True)
    )
    assert len(set(rows["id"])) == len(rows["id"])


def test_damaged_dataset_is_refused(mini_dataset: Path, tmp_path: Path) -> None:
    copy = tmp_path / "ds"
    copy.mkdir()
    (copy / "manifest.json").write_text((mini_dataset / "manifest.json").read_text())
    data = (mini_dataset / "examples.parquet").read_bytes()
    (copy / "examples.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="checksum does not match"):
        load_dataset(copy)


def test_predictions_follow_the_schema(tiny_model: Path) -> None:
    predictor = Predictor(tiny_model)
    texts = [
        (
            "CVE-X-1",
            "SQL injection in the login form of Acme Portal allows remote attackers to "
            "execute arbitrary SQL commands via the username parameter.",
        ),
        (
            "CVE-X-2",
            "A use-after-free in the PDF parser allows attackers to execute code via a "
            "crafted document.",
        ),
        ("CVE-X-3", "   "),
    ]
    results = predictor.predict_batch(texts)
    assert [r["id"] for r in results] == ["CVE-X-1", "CVE-X-2", "CVE-X-3"]
    assert results[2] == {"id": "CVE-X-3", "error": "empty description"}
    for result in results:
        jsonschema.validate(result, SCHEMA)
    cat = predictor.catalog
    for result in results[:2]:
        cwe = result["cwe"]
        assert cat.cwe.is_path(cwe["path"]) and cwe["path"][-1] == cwe["id"]
        from vulntax.taxonomy.cvss import score

        assert score(result["cvss"]["vector"]).base_score == result["cvss"]["base_score"]
    assert results[0]["cwe"]["id"] == "CWE-89"


def test_save_load_round_trip_is_exact(tiny_model: Path, tmp_path: Path) -> None:
    model = load_model(tiny_model)
    model.save(tmp_path / "copy")
    again = load_model(tmp_path / "copy")
    texts = ["Buffer overflow in the parser allows remote attackers to cause a denial of service."]
    a, b = model.predict_batch(texts), again.predict_batch(texts)
    assert (a.cwe == b.cwe).all()
    assert all((a.cvss[m] == b.cvss[m]).all() for m in a.cvss)


def test_corrupt_model_files_give_clear_errors(tiny_model: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "weights.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="not a readable safetensors file"):
        load_model(broken)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot read the model config"):
        load_model(broken)
    with pytest.raises(ModelError, match="no such model directory"):
        load_model(tmp_path / "nowhere")
    pickle = tmp_path / "pickled"
    shutil.copytree(tiny_model, pickle)
    (pickle / "weights.safetensors").write_bytes(b"\x80\x04\x95" + b"\x00" * 40)  # a pickle header
    with pytest.raises(ModelError):
        load_model(pickle)


def test_composite_takes_each_head_from_its_part(tiny_model: Path, tmp_path: Path) -> None:
    from vulntax.errors import ConfigError
    from vulntax.models.composite import compose

    heads = {"cwe": "a", "cvss": "b", "capec": "a", "attack": "a"}
    out = compose(tmp_path / "combo", {"a": tiny_model, "b": tiny_model}, heads, "combo", "1")
    text = "Cross-site scripting in the admin panel allows injection of arbitrary web script."
    combo = Predictor(out).predict(text)
    alone = Predictor(tiny_model).predict(text)
    assert combo["cwe"] == alone["cwe"] and combo["cvss"] == alone["cvss"]
    assert combo["model"] == {"name": "combo", "version": "1"}
    with pytest.raises(ConfigError, match="missing"):
        compose(tmp_path / "bad", {"a": tiny_model}, {"cwe": "a"}, "bad", "1")


def test_composite_ensemble_averages_aligned_labels(tiny_model: Path, tmp_path: Path) -> None:
    from vulntax.models.composite import compose

    heads = {"cwe": {"a": 1, "b": 3}, "cvss": {"a": 1, "b": 1}, "capec": "a", "attack": "a"}
    out = compose(tmp_path / "ens", {"a": tiny_model, "b": tiny_model}, heads, "ens", "1")
    text = ["Path traversal in the upload handler lets remote users read arbitrary files."]
    ens = load_model(out).predict_batch(text)
    one = load_model(tiny_model).predict_batch(text)
    # the same model twice: any weighting gives back its own probabilities
    assert abs(ens.cwe - one.cwe).max() < 1e-5
    assert all(abs(ens.cvss[m] - one.cvss[m]).max() < 1e-5 for m in one.cvss)
