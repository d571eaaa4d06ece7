"""End to end on the tiny model and the mini dataset: API, CLI, report files, errors."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vulntax.cli import main
from vulntax.dataset.store import load_dataset
from vulntax.errors import DatasetError, InputError, ModelError
from vulntax.evaluate import evaluate_dataset, evaluate_file
from vulntax.evaluate.baseline import from_model_dir
from vulntax.evaluate.gold import from_dataset
from vulntax.predictor import Predictor
from vulntax.taxonomy.cvss import metrics_from_vector

PNG = b"\x89PNG\r\n\x1a\n"
SUMMARY_KEYS = {
    "cwe_top1",
    "cwe_top5",
    "cwe_hierarchy",
    "cwe_macro_f1",
    "cwe_path_violation_rate",
    "cwe_abstain_rate",
    "cvss_exact_vector",
    "cvss_base_score_mae",
    "capec_recall@5",
    "attack_recall@5",
    "attack_ctid_recall@5",
}


@pytest.fixture(scope="module")
def predictor(tiny_model: Path, data_dir: Path) -> Predictor:
    return Predictor(tiny_model, data_dir=data_dir)


@pytest.fixture(scope="module")
def report(predictor: Predictor, mini_dataset: Path) -> dict[str, Any]:
    return evaluate_dataset(predictor, mini_dataset, "test", show_progress=False)


def test_report_figures_agree_with_a_direct_count(
    report: dict[str, Any], predictor: Predictor, mini_dataset: Path
) -> None:
    gold = from_dataset(load_dataset(mini_dataset), "test")
    preds = predictor.predict_batch(list(zip(gold.ids, gold.texts, strict=True)))
    labelled = [(p, g) for p, g in zip(preds, gold.cwe, strict=True) if g and "error" not in p]
    top1 = sum(p["cwe"]["id"] in g for p, g in labelled) / len(labelled)
    cwe = report["cwe"]["overall"]
    assert cwe["model"]["records"] == len(labelled) == report["run"]["gold"]["cwe"]
    assert cwe["model"]["top1"] == round(top1, 4)
    vectors = [(p, v) for p, v in zip(preds, gold.cvss_vector, strict=True) if v]
    exact = sum(  # on base metrics: gold vectors may carry temporal metrics too
        metrics_from_vector(p["cvss"]["vector"]) == metrics_from_vector(v) for p, v in vectors
    )
    assert report["cvss"]["overall"]["model"]["exact_vector"] == round(exact / len(vectors), 4)


def test_report_shape_and_baseline(report: dict[str, Any]) -> None:
    summary = report["summary"]
    assert set(summary) >= SUMMARY_KEYS
    for name, pair in summary.items():
        assert set(pair) == {"model", "baseline"}, name
        for value in pair.values():
            assert value is None or round(value, 4) == value
    assert summary["cwe_top1"]["model"] > summary["cwe_top1"]["baseline"] > 0
    assert summary["cwe_path_violation_rate"]["model"] == 0.0  # the predictor's paths are real
    assert summary["cwe_top5"]["model"] >= summary["cwe_top1"]["model"]
    assert summary["cwe_hierarchy"]["model"] >= summary["cwe_top1"]["model"]
    assert set(report["cvss"]["by_source"]) <= {"nvd", "cna", "adp"}
    assert len(report["cvss"]["by_source"]) >= 2  # the mini test split has NVD and CNA vectors
    assert (
        sum(p["model"]["records"] for p in report["cwe"]["by_source"].values())
        == (report["cwe"]["overall"]["model"]["records"])
    )
    buckets = report["cwe"]["by_frequency"]["model"]
    assert sum(b["records"] for b in buckets.values()) == report["run"]["gold"]["cwe"]
    assert report["attack"]["ctid"]["model"]["records"] == report["run"]["ctid_records"] > 0
    techniques = report["attack"]["technique_level"]["derived"]["model"]
    assert techniques["recall@5"] >= 0 and techniques["records"] == report["run"]["gold"]["attack"]
    assert report["baseline"]["prediction"]["model"]["name"] == "majority-baseline"


def test_training_writes_the_report_into_metrics_json(tiny_model: Path) -> None:
    metrics = json.loads((tiny_model / "metrics.json").read_text())
    assert metrics["split"] == "validation"
    assert set(metrics["summary"]) >= SUMMARY_KEYS
    assert from_model_dir(tiny_model) is not None  # the baseline for --input evaluations
    assert "| cwe_top1 |" in (tiny_model / "README.md").read_text()


def test_cli_writes_json_markdown_and_plots(
    tiny_model: Path, mini_dataset: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vulntax",
            "evaluate",
            "--model",
            str(tiny_model),
            "--dataset",
            str(mini_dataset),
            "--split",
            "validation",
            "--data-dir",
            str(data_dir),
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "cwe_top1" in done.stdout and "Traceback" not in done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["run"]["split"] == "validation"
    markdown = (out / "report.md").read_text()
    assert "| figure | model | majority baseline |" in markdown
    for heading in ("## CWE", "## CVSS", "## CAPEC", "## ATT&CK", "By label source", "technique"):
        assert heading in markdown
    for name in ("cvss_confusion.png", "cwe_by_frequency.png", "reliability.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, name


def test_input_file_gold_matches_the_dataset(
    predictor: Predictor,
    tiny_model: Path,
    mini_data_dir: Path,
    mini_dataset: Path,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    feed_path = mini_data_dir / "nvd" / "nvdcve-2.0-2022.json.gz"
    with gzip.open(feed_path, "rt", encoding="utf-8") as handle:
        feed = json.load(handle)
    feed["vulnerabilities"] = feed["vulnerabilities"][:150]
    small = tmp_path / "slice.json"
    small.write_text(json.dumps(feed))
    baseline = from_model_dir(tiny_model)  # saved by training
    report = evaluate_file(predictor, small, False, baseline=baseline, data_dir=data_dir)
    assert report["run"]["gold"]["records"] == 150
    assert report["summary"]["cwe_top1"]["baseline"] is not None
    # the file's records are labelled as the dataset builder labelled them
    from vulntax.evaluate.gold import from_file

    gold, _ = from_file(small, predictor.catalog, data_dir)
    ds = load_dataset(mini_dataset)
    rows = ds.columns(None, ["id", "cwe", "cvss_vector", "capec_derived", "dup_count", "origin"])
    by_id = {i: k for k, i in enumerate(rows["id"])}
    compared = 0
    for k, cve in enumerate(gold.ids):
        j = by_id.get(cve)
        if j is None or rows["dup_count"][j] != 1 or rows["origin"][j] != "nvd":
            continue
        assert gold.cwe[k] == rows["cwe"][j], cve
        assert gold.cvss_vector[k] == rows["cvss_vector"][j], cve
        assert gold.capec[k] == rows["capec_derived"][j], cve
        compared += 1
    assert compared > 100


def test_errors_are_clear(predictor: Predictor, mini_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown split 'dev'"):
        evaluate_dataset(predictor, mini_dataset, "dev", show_progress=False)
    with pytest.raises(DatasetError, match="no such dataset directory"):
        evaluate_dataset(predictor, tmp_path / "missing", "test", show_progress=False)
    # a dataset whose manifest lists no validation examples
    copy = tmp_path / "ds"
    copy.mkdir()
    (copy / "examples.parquet").symlink_to(mini_dataset / "examples.parquet")
    manifest = json.loads((mini_dataset / "manifest.json").read_text())
    manifest["counts"]["by_split"].pop("validation")
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="has no 'validation' examples"):
        evaluate_dataset(predictor, copy, "validation", show_progress=False)
    # built with other catalogs
    manifest["catalog"] = {**manifest["catalog"], "cwe": "4.13"}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="built with catalogs"):
        evaluate_dataset(predictor, copy, "test", show_progress=False)
    # a file without any gold label
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps({"id": "X-1", "description": "SQL injection in Foo."}) + "\n")
    with pytest.raises(InputError, match="none of its 1 records has a gold label"):
        evaluate_file(predictor, plain, False)


def test_model_trained_with_other_catalogs_is_refused(
    tiny_model: Path, data_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    config = json.loads((copy / "config.json").read_text())
    config["catalog"] = {**config["catalog"], "attack": "15.1"}
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="trained with catalogs"):
        evaluate_file(Predictor(copy, data_dir=data_dir), copy / "config.json", False)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--split", "dev"], 1, "error: unknown split 'dev'"),
        ([], 2, "error: evaluate needs --dataset DIR or --input FILE"),
        (["--input", "x.json", "--split", "test"], 2, "error: --split chooses a dataset split"),
        (["--input", "x.json", "--out", __file__], 2, "error: --out"),
    ],
)
def test_cli_errors_are_one_line(
    args: list[str],
    code: int,
    message: str,
    tiny_model: Path,
    mini_dataset: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dataset = (
        ["--dataset", str(mini_dataset)] if "--split" in args and "--input" not in args else []
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--model", str(tiny_model), *dataset, *args])
    assert exit_info.value.code == code
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_evaluating_a_split_the_model_learnt_from_warns(tiny_model, mini_dataset) -> None:
    from vulntax.dataset.store import load_dataset
    from vulntax.evaluate.harness import trained_on
    from vulntax.models import load_model

    config = load_model(tiny_model).config
    manifest = load_dataset(mini_dataset).manifest
    assert trained_on(config, manifest, "test") is None
    assert "not held-out" in (trained_on(config, manifest, "train") or "")
    refit = {**config, "training": {"data": {"train_splits": ["train"], "refit_splits": ["test"]}}}
    assert "not held-out" in (trained_on(refit, manifest, "test") or "")
