"""Fixtures of the taxonomy tests: MITRE's real catalogs, parsed once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from vulntax.taxonomy import Catalog, load_catalog


@pytest.fixture(scope="session")
def catalog(data_dir: Path) -> Catalog:
    """The catalog parsed from MITRE's files in ``../shared/data`` (cached by load_catalog)."""
    return load_catalog(data_dir)


@pytest.fixture(scope="session")
def shipped() -> Catalog:
    """The snapshot shipped in the package."""
    return load_catalog()
