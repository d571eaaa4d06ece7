from __future__ import annotations

import numpy as np

from vulntax.models.attack_mapper import fit_attack_mapper, one_hot_cvss

VALUES = {"AV": 4, "AC": 2, "PR": 3, "UI": 2, "S": 2, "C": 3, "I": 3, "A": 3}


def test_mapper_learns_a_cvss_cue() -> None:
    # records exploitable over the network (AV:N) are mapped to T1190, local ones to T1068
    rng = np.random.default_rng(0)
    n = 120
    network = rng.random(n) < 0.5
    cvss = {m: np.full((n, k), 1.0 / k, dtype=np.float32) for m, k in VALUES.items()}
    cvss["AV"] = one_hot_cvss(
        ["N" if x else "L" for x in network], ["N", "A", "L", "P"], cvss["AV"]
    )
    gold = [["T1190"] if x else ["T1068"] for x in network]
    pillars = np.zeros((n, 2), dtype=np.float32)
    mapper = fit_attack_mapper(gold, cvss, pillars, {}, ["CWE-664", "CWE-707"])
    assert mapper is not None and mapper.techniques == ["T1068", "T1190"]
    probs = mapper.probabilities(cvss, np.zeros((n, 1)), np.zeros((1, 2)), np.zeros((n, 2)))
    assert (probs[network, 1] > 0.5).all() and (probs[~network, 0] > 0.5).all()


def test_too_few_mappings_give_no_mapper() -> None:
    cvss = {m: np.ones((2, k), dtype=np.float32) / k for m, k in VALUES.items()}
    assert (
        fit_attack_mapper([["T1190"], ["T1190"]], cvss, np.zeros((2, 1)), {}, ["CWE-664"]) is None
    )
