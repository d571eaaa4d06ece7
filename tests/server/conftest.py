"""Fixtures of the service tests: the app over the tiny real model, in process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vulntax.predictor import Predictor
from vulntax.server.app import create_app


@pytest.fixture(scope="session")
def predictor(tiny_model: Path) -> Predictor:
    return Predictor(tiny_model)


@pytest.fixture(scope="module")
def client(predictor: Predictor) -> Iterator[TestClient]:
    """The app with its lifespan running (the micro-batcher started)."""
    with TestClient(create_app(predictor), raise_server_exceptions=False) as test_client:
        yield test_client


def nvd_descriptions(data_dir: Path, year: int, count: int) -> list[str]:
    """English descriptions of the first ``count`` records of one year's NVD feed."""
    from vulntax.ingest import read_records
    from vulntax.records import IngestReport

    texts = []
    for record in read_records([data_dir / "nvd" / f"nvdcve-2.0-{year}.json.gz"], IngestReport()):
        texts.append(record.description)
        if len(texts) == count:
            break
    return texts


@pytest.fixture(scope="session")
def descriptions(data_dir: Path) -> list[str]:
    """English descriptions of 100 real NVD records."""
    return nvd_descriptions(data_dir, 2022, 100)
