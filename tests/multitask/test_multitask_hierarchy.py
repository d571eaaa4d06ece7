"""The CWE levels built from the real View-1000 catalog, and the decodings over them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vulntax.errors import ModelError
from vulntax.models.multitask.hierarchy import (
    STOP,
    Hierarchy,
    chosen_class,
    independent_argmax,
    marginal_violations,
    path_log_scores,
    top_down,
    violations,
)

CLASSES = [
    "CWE-20",
    "CWE-22",
    "CWE-78",
    "CWE-79",
    "CWE-89",
    "CWE-119",
    "CWE-125",
    "CWE-787",
    "CWE-352",
    "CWE-862",
    "CWE-863",
    "CWE-284",
    "CWE-400",
    "CWE-476",
]


@pytest.fixture(scope="module")
def h(catalog: Any) -> Hierarchy:
    return Hierarchy.build(CLASSES, catalog.cwe.path)


def test_levels_follow_the_display_paths(h: Hierarchy, catalog: Any) -> None:
    for i, c in enumerate(CLASSES):
        path = catalog.cwe.path(c)
        cols = h.targets[i]
        assert [h.levels[ell][cols[ell] - 1] for ell in range(len(path))] == list(path)
        assert all(cols[ell] == STOP for ell in range(len(path), h.depth))
    assert Hierarchy.from_dict(h.to_dict()).levels == h.levels


def test_a_class_without_a_path_is_refused(catalog: Any) -> None:
    with pytest.raises(ModelError, match="no path"):
        Hierarchy.build(["CWE-264"], catalog.cwe.path)  # a category: not in View 1000


def test_hierarchical_decodings_never_violate_but_independent_argmax_can(h: Hierarchy) -> None:
    rng = np.random.default_rng(0)
    probs = [rng.dirichlet(np.ones(s), size=500).astype(np.float32) for s in h.sizes()]
    assert not violations(h, top_down(h, probs)).any()
    best = np.argmax(path_log_scores(h, [np.log(p) for p in probs]), axis=1)
    assert not violations(h, h.targets[best]).any()
    assert violations(h, independent_argmax(probs)).mean() > 0.5  # random levels disagree
    assert marginal_violations(h, probs).any()


def test_violation_rules(h: Hierarchy) -> None:
    i79 = CLASSES.index("CWE-79")
    good = h.targets[[i79]].copy()
    assert not violations(h, good).any()
    assert chosen_class(h, good)[0] == i79
    below_stop = good.copy()
    below_stop[0, 1] = STOP  # a node under a STOP
    assert violations(h, below_stop).all()
    wrong_parent = good.copy()
    wrong_parent[0, 1] = h.targets[CLASSES.index("CWE-476"), 1]
    if wrong_parent[0, 1] != good[0, 1]:
        assert violations(h, wrong_parent).all()
