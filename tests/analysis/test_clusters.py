"""The clustering study on real descriptions (500 of the mini dataset), its report and CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vulntax.analysis import report as rep
from vulntax.analysis.clusters import ClusterAnalysis, analyze, elbow
from vulntax.analysis.space import ClusterSpace, fit_projection
from vulntax.cli import main
from vulntax.errors import ModelError
from vulntax.models.data import DataConfig, Examples, load_examples

N = 500
K_RANGE = range(2, 7)


@pytest.fixture(scope="module")
def examples(mini_dataset: Path) -> Examples:
    from vulntax.dataset.store import load_dataset

    return load_examples(
        load_dataset(mini_dataset), ["train"], DataConfig(cwe_window_years=None), training=True
    )


@pytest.fixture(scope="module")
def texts(examples: Examples) -> list[str]:
    return examples.texts[:N]


@pytest.fixture(scope="module")
def analysis(examples: Examples, texts: list[str]) -> ClusterAnalysis:
    cvss = {m: values[:N] for m, values in examples.cvss.items()}
    return analyze(
        texts, cvss, examples.cwe_gold[:N], sample=N, k_range=K_RANGE, silhouette_sample=400
    )


@pytest.fixture(scope="module")
def written(analysis: ClusterAnalysis, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("analysis")
    rep.write_report(analysis, out, {"dataset": "mini", "split": "train"})
    return out


def test_every_file_is_written(written: Path) -> None:
    for name in (rep.SCATTER, rep.CRITERIA, rep.HEATMAP, rep.SEPARATION):
        data = (written / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000, name
    report = (written / rep.MARKDOWN).read_text()
    for name in (rep.SCATTER, rep.CRITERIA, rep.HEATMAP, rep.SEPARATION):
        assert f"]({name})" in report
    saved = json.loads((written / rep.JSON).read_text())
    assert saved["run"]["split"] == "train" and saved["run"]["hardware"]
    assert [c["k"] for c in saved["criteria"]] == list(K_RANGE)
    assert len(saved["clusters"]) == saved["chosen_k"]


def test_criteria_and_the_chosen_k(analysis: ClusterAnalysis) -> None:
    assert [c.k for c in analysis.criteria] == list(K_RANGE)
    best = max(analysis.criteria, key=lambda c: c.silhouette)
    assert analysis.chosen_k == best.k
    assert analysis.bic_k == min(analysis.criteria, key=lambda c: c.bic).k
    assert analysis.elbow_k in K_RANGE
    sse = [c.sse for c in analysis.criteria]
    assert all(math.isfinite(v) and v > 0 for v in sse)
    assert all(-1 <= c.silhouette <= 1 and c.calinski_harabasz > 0 for c in analysis.criteria)
    assert analysis.sample == N and analysis.silhouette_sample == 400


def test_cluster_profiles(analysis: ClusterAnalysis) -> None:
    k = analysis.chosen_k
    assert sum(c.size for c in analysis.clusters) == N
    for c in analysis.clusters:
        assert c.top_terms and c.distinctive_terms
        assert all(0 < share <= 1 for _, share in c.cwes) and len(c.cwes) <= 3
        for shares in c.metrics.values():
            assert sum(shares.values()) == pytest.approx(1.0 if c.cvss_scored else 0.0)
        if c.cvss_scored:
            assert 0 <= c.scores["base"] <= 10  # type: ignore[operator]
    for name in ("minkowski_p1", "minkowski_p2", "minkowski_p3", "cosine"):
        matrix = np.asarray(analysis.separation[name]["matrix"])
        assert matrix.shape == (k, k)
        assert np.allclose(matrix, matrix.T) and np.allclose(np.diag(matrix), 0, atol=1e-6)
    # p = 1 ≥ p = 2 ≥ p = 3 between any two points
    p1, p2, p3 = (np.asarray(analysis.separation[f"minkowski_p{p}"]["matrix"]) for p in (1, 2, 3))
    assert np.all(p1 >= p2 - 1e-9) and np.all(p2 >= p3 - 1e-9)


def test_the_space_projects_as_the_pca(analysis: ClusterAnalysis, texts: list[str]) -> None:
    space = analysis.space
    assert space is not None and space.clusters == analysis.chosen_k
    _, pca, x = fit_projection(texts, 50, 20000, 3, 0)  # analyze's defaults, same sample
    assert np.allclose(space.project(texts), pca.transform(x), atol=1e-4)
    member = space.memberships(texts[:50])
    assert member.shape == (50, analysis.chosen_k)
    assert np.allclose(member.sum(axis=1), 1.0, atol=1e-5)


def test_the_interpretation_states_only_figures(analysis: ClusterAnalysis) -> None:
    for c in analysis.clusters:
        sentence = rep.interpret(c, analysis.overall)
        assert f"Cluster {c.cluster}" in sentence and f"{c.size:,} records" in sentence
        if c.cwes:
            assert c.cwes[0][0] in sentence


def test_elbow_of_a_bent_curve() -> None:
    assert elbow([2, 3, 4, 5, 6, 7], [100, 40, 30, 25, 22, 20]) == 3
    assert elbow([2, 3], [10, 5]) == 2


def test_subscores_match_nvd() -> None:
    from vulntax.taxonomy.cvss import subscores

    # as NVD publishes them for these vectors
    assert subscores("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == (9.8, 5.9, 3.9)
    assert subscores("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N") == (6.1, 2.7, 2.8)


# ---------------------------------------------------------------------------- the saved space
@pytest.fixture(scope="module")
def space(texts: list[str]) -> ClusterSpace:
    return ClusterSpace.fit(texts[:200], clusters=3, components=8)


def test_space_round_trip(space: ClusterSpace, texts: list[str]) -> None:
    info = json.loads(json.dumps(space.to_json()))
    back = ClusterSpace.from_saved(info, space.to_tensors())
    assert np.allclose(back.project(texts[:40]), space.project(texts[:40]), atol=1e-5)
    assert np.allclose(back.memberships(texts[:40]), space.memberships(texts[:40]), atol=1e-6)


@pytest.mark.parametrize(
    "damage",
    [
        lambda info, t: t.pop("space.axes"),
        lambda info, t: info.pop("terms"),
        lambda info, t: t.update({"space.centroids": t["space.centroids"][:, :-1]}),
        lambda info, t: t.update({"space.idf": t["space.idf"][:-1]}),
        lambda info, t: info.update({"scale": -1.0}),
    ],
    ids=["missing-axes", "missing-terms", "centroid-width", "idf-length", "scale"],
)
def test_a_corrupted_space_is_a_model_error(space: ClusterSpace, damage: Any) -> None:
    info, tensors = dict(space.to_json()), dict(space.to_tensors())
    damage(info, tensors)
    with pytest.raises(ModelError):
        ClusterSpace.from_saved(info, tensors)


# ---------------------------------------------------------------------------- the CLI
def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(["analyze", "clusters", *args])
    out = capsys.readouterr()
    return int(stop.value.code or 0), out.out, out.err


def test_cli_runs(mini_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--dataset", str(mini_dataset), "--out", str(tmp_path / "a"), "--sample", "300"]
    code, out, _ = _cli(capsys, *args, "--k-max", "3", "-q")
    assert code == 0
    assert "chosen k = " in out and str(tmp_path / "a" / rep.MARKDOWN) in out
    assert (tmp_path / "a" / rep.CRITERIA).stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--k-min", "1"], 2, "--k-min"),
        (["--k-min", "5", "--k-max", "4"], 2, "--k-max"),
        (["--sample", "10"], 2, "--sample"),
        (["--sample", "100", "--k-max", "20"], 2, "too few"),
    ],
)
def test_cli_errors(
    mini_dataset: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    words: str,
) -> None:
    got, _, err = _cli(capsys, "--dataset", str(mini_dataset), "--out", str(tmp_path), *args)
    assert got == code
    assert err.startswith("error: ") and words in err and err.count("\n") == 1


def test_cli_dataset_and_out_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for dataset, out, words in [
        (tmp_path / "missing", tmp_path / "o", "no such dataset"),
        (empty, tmp_path / "o", "not a dataset"),
        (empty, a_file, "a file"),
    ]:
        code, _, err = _cli(capsys, "--dataset", str(dataset), "--out", str(out))
        assert code != 0
        assert err.startswith("error: ") and words in err and err.count("\n") == 1


def test_cli_error_in_a_real_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vulntax", "analyze", "clusters", "--dataset", str(tmp_path),
         "--out", str(tmp_path / "o"), "--k-min", "0"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_saved_axes_of_the_wrong_rank_are_a_model_error(space: ClusterSpace) -> None:
    tensors = dict(space.to_tensors())
    tensors["space.axes"] = tensors["space.axes"][0]
    with pytest.raises(ModelError):
        ClusterSpace.from_saved(dict(space.to_json()), tensors)
