"""The HTTP API against its own OpenAPI document, fuzzed with Schemathesis.

Schemathesis reads ``/openapi.json`` from the app (over the tiny real model, in process)
and, for every operation, generates requests that fit the document (positive) and requests
that break it (negative), then runs every check it has: no 5xx, every answer fits the
documented status and schema, valid requests are accepted, invalid ones rejected, wrong
methods answer 405. The number of examples is bounded so the test stays fast.

The patterns the document states are checked here too: every string a pattern allows is
one the server accepts (real NVD descriptions and vectors, and generated ones).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from vulntax.predictor import Predictor
from vulntax.server.app import create_app
from vulntax.taxonomy.cvss import VECTOR_PATTERN, score
from vulntax.text import USABLE_TEXT_PATTERN, model_input

from .conftest import nvd_descriptions

EXAMPLES = 60  # per operation and generation mode
REPO = Path(__file__).resolve().parents[2]


OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in json.loads((REPO / "docs" / "openapi.json").read_text())["paths"].items()
    for method in item
]


@pytest.fixture(scope="module")
def api(predictor: Predictor) -> Any:
    """The document as the app serves it; Schemathesis runs the app's lifespan itself."""
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(predictor))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("label", OPERATIONS)
def test_api_keeps_its_documented_contract(api: Any, label: str, mode: GenerationMode) -> None:
    operation = api.find_operation_by_label(label)
    assert operation is not None, label

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases on every run
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate()  # every check Schemathesis has
        body = case.body if isinstance(case.body, dict) else {}
        seen.add((response.status_code, "items" in body, "description" in body))

    seen: set[tuple[int, bool, bool]] = set()

    try:
        check()
        if (label, mode) == ("POST /v1/predict", GenerationMode.POSITIVE):
            assert {(200, False, True), (200, True, False)} <= seen  # single and batch answered
    except Unsatisfiable:  # no request can break the document (no body, free-text paths)
        assert mode is GenerationMode.NEGATIVE, label


@pytest.fixture(scope="module")
def real_texts(data_dir: Path) -> list[str]:
    """English descriptions of 2,000 real NVD records."""
    return nvd_descriptions(data_dir, 2021, 2000)


def test_usable_text_pattern_is_what_the_predictor_accepts(real_texts: list[str]) -> None:
    pattern = re.compile(USABLE_TEXT_PATTERN)
    crafted = [
        "",
        " \n\t\u00a0",
        "CVE-2021-44228",
        "cve-2021-44228 CWE-502\n",
        "CWE 79 CWE_80 cwe-81",
        "CVE-2021-1234CVE-2021-5678",
        "CVE-2021-1234.",
        "CWE-",
        "x",
    ]
    for text in [*crafted, *real_texts]:
        assert bool(pattern.search(text)) == bool(model_input(text)), repr(text)


@given(st.from_regex(USABLE_TEXT_PATTERN))
@settings(max_examples=200, deadline=None, database=None, derandomize=True)
def test_generated_usable_texts_are_usable(text: str) -> None:
    assert model_input(text)


@given(st.from_regex(VECTOR_PATTERN))
@settings(max_examples=200, deadline=None, database=None, derandomize=True)
def test_every_vector_the_pattern_allows_is_scored(vector: str) -> None:
    assert 0 <= score(vector).base_score <= 10


def test_real_nvd_vectors_in_order_match_the_pattern(data_dir: Path) -> None:
    """NVD writes its v3 vectors in the specification's order: the pattern takes them all."""
    from vulntax.ingest import read_records
    from vulntax.records import IngestReport

    vectors = [
        label.vector
        for record in read_records([data_dir / "nvd" / "nvdcve-2.0-2022.json.gz"], IngestReport())
        for label in record.cvss
        if label.version in ("3.0", "3.1")
    ][:3000]
    assert len(vectors) > 500
    assert all(re.fullmatch(VECTOR_PATTERN, v) for v in vectors)
