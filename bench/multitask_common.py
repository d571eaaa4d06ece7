"""Shared settings of the multitask benchmarks (imported by the bench/multitask_*.py scripts).

CPU budget: MiniLM embeds 10–80 texts/s on this shared 2-core machine, so the
benchmarks embed the CWE window (last 1.5 years of train), the same window for
CVSS, validation, the CTID gold CVEs and a fixed random sample of the test split.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CVSS_YEARS = 1.5
TEST_SAMPLE = 6000
SAMPLE_SEED = 20260101


def test_sample_rows(dataset: Any, n: int = TEST_SAMPLE) -> np.ndarray:
    """Row numbers (in the test split's order) of the fixed random test sample."""
    count = len(dataset.columns("test", ["id"])["id"])
    rng = np.random.default_rng(SAMPLE_SEED)
    return np.sort(rng.choice(count, size=min(n, count), replace=False))
