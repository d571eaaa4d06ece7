"""Shared test fixtures.

Tests read small slices of the real data in ``../shared/data`` (or
``$VULNTAX_TEST_DATA``); nothing from it is committed. A session without that
folder skips the tests that need it with a clear reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("VULNTAX_TEST_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not (path / "catalogs").is_dir():
        pytest.skip(f"shared data not found at {path} (set VULNTAX_TEST_DATA)")
    return path


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own data dir or API key."""
    monkeypatch.delenv("VULNTAX_DATA_DIR", raising=False)
    monkeypatch.delenv("NVD_API_KEY", raising=False)


# ---------------------------------------------------------------------------------------
# A miniature data folder, dataset and model, cut at test time from the real data.


def _slice_nvd(src: Path, dst: Path, keep: int, every: int) -> None:
    import gzip
    import json

    with gzip.open(src, "rt", encoding="utf-8") as handle:
        feed = json.load(handle)
    items = feed["vulnerabilities"][::every][:keep]
    feed.update(vulnerabilities=items, resultsPerPage=len(items), totalResults=len(items))
    with gzip.open(dst, "wt", encoding="utf-8") as handle:
        json.dump(feed, handle)


@pytest.fixture(scope="session")
def mini_data_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder of real records: ~3,600 NVD CVEs (2019-2022) and 1,500 CVE JSON 5 ones.

    Catalogs and the ATT&CK gold files are linked, not copied.
    """
    import gzip

    root = tmp_path_factory.mktemp("mini-data")
    (root / "nvd").mkdir()
    (root / "cve5").mkdir()
    for year, keep in (("2019", 900), ("2021", 1500), ("2022", 1200)):
        name = f"nvdcve-2.0-{year}.json.gz"
        _slice_nvd(data_dir / "nvd" / name, root / "nvd" / name, keep=keep, every=7)
    src = data_dir / "cve5" / "vulnrichment-2024-10-24.jsonl.gz"
    with (
        gzip.open(src, "rt", encoding="utf-8") as inp,
        gzip.open(root / "cve5" / src.name, "wt", encoding="utf-8") as out,
    ):
        for i, line in enumerate(inp):
            if i % 29 == 0:
                out.write(line)
            if i >= 29 * 1500:
                break
    for name in ("catalogs", "attack_gold"):
        (root / name).symlink_to(data_dir / name, target_is_directory=True)
    return root


@pytest.fixture(scope="session")
def mini_dataset(mini_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset built by `vulntax dataset build` from the mini data folder."""
    from vulntax.dataset.build import build_dataset

    out = tmp_path_factory.mktemp("mini-dataset")
    build_dataset(mini_data_dir, out, show_progress=False)
    return out


TINY_LINEAR_CONFIG = {
    "name": "tiny-linear",
    "data": {"cwe_window_years": 3.0, "cwe_min_count": 3},
    "linear": {"max_features": 5000, "keep_weights": 0.2},
}


@pytest.fixture(scope="session")
def tiny_model(
    mini_dataset: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A small linear model trained on the mini dataset (a few seconds)."""
    from vulntax.train import parse_config, train_model

    out = tmp_path_factory.mktemp("tiny-model")
    train_model(
        parse_config(TINY_LINEAR_CONFIG), mini_dataset, out, data_dir=data_dir, log=lambda m: None
    )
    return out


@pytest.fixture(scope="session")
def serve_vulntax() -> Any:
    """``vulntax serve ARGS`` on a free loopback port: ``with serve_vulntax(args, log) as url``.

    The server runs as a subprocess writing to ``log``; the block gets its base URL once
    ``/healthz`` answers (the test fails with the log if it does not within ``start_s``),
    and the server is stopped when the block ends.
    """
    import contextlib
    import socket
    import subprocess
    import sys
    import time

    import httpx

    @contextlib.contextmanager
    def serve(
        args: list[str], log: Path, env: dict[str, str] | None = None, start_s: float = 90
    ) -> Iterator[str]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [sys.executable, "-m", "vulntax", "serve", "--port", str(port), *args]
        with open(log, "w") as sink:
            server = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_s
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"vulntax serve did not start:\n{log.read_text()}")
                time.sleep(0.2)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    return serve
