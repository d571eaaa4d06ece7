"""Shared test fixtures.

Tests read small slices of the real data in ``../shared/data`` (or
``$VULNTAX_TEST_DATA``); nothing from it is committed. A session without that
folder skips the tests that need it with a clear reason.
"""

from __future__ import annotations

import os
from pathlib import Path

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
