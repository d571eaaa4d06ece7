"""bench/load.py, the benchmark that measures the service's targets, runs and counts right."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("client", ["raw", "httpx"])
def test_load_bench_runs_a_short_round(
    client: str, tiny_model: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "load.json"
    command = [sys.executable, str(REPO / "bench" / "load.py"), "--model", str(tiny_model)]
    command += ["--data-dir", str(data_dir), "--concurrency", "1", "4", "--seconds", "0.3"]
    command += ["--budget", "2", "--max-requests", "40", "--client", client, "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["settings"]["client"] == client
    cells = {(r["mode"], r["concurrency"]): r for r in report["results"]}
    assert set(cells) == {("single", 1), ("single", 4), ("batch", 1), ("batch", 4)}
    for cell in cells.values():
        assert cell["failed"] == 0, cell["failures"]
        assert 0 < cell["requests"] <= 40
        assert cell["p50_ms"] <= cell["p99_ms"] <= cell["max_ms"]
    assert "single" in done.stdout and "p99 ms" in done.stdout
