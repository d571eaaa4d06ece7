"""The pure metric functions, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from vulntax.errors import UsageError
from vulntax.evaluate import metrics as M


def test_accuracy_and_mean() -> None:
    assert M.accuracy(["a", "b", "c", "d"], ["a", "x", "c", "y"]) == 0.5
    assert M.accuracy([], []) is None
    assert M.mean([True, False, False, False]) == 0.25
    assert M.mean([]) is None


def test_lengths_must_match() -> None:
    with pytest.raises(UsageError, match="2 predictions but 1 gold"):
        M.accuracy(["a", "b"], ["a"])


def test_hits_against_several_gold_labels() -> None:
    gold = [["CWE-79"], ["CWE-89", "CWE-20"], ["CWE-787"]]
    assert M.hits(["CWE-79", "CWE-20", "CWE-125"], gold).tolist() == [True, True, False]
    top = [("CWE-20", "CWE-79"), ("CWE-22",), ("CWE-125", "CWE-787")]
    assert M.any_hits(top, gold).tolist() == [True, False, True]


def test_resolve_targets_credits_the_matched_gold_label() -> None:
    gold = [["CWE-89", "CWE-20"], ["CWE-89", "CWE-20"], ["CWE-79"]]
    assert M.resolve_targets(["CWE-20", "CWE-22", "CWE-79"], gold) == ["CWE-20", "CWE-89", "CWE-79"]
    with pytest.raises(UsageError):
        M.resolve_targets(["CWE-20"], [[]])


def test_macro_f1_by_hand() -> None:
    # a: tp 2, fp 0, fn 1 -> F1 4/5; b: tp 1, fp 1, fn 0 -> 2/3; c: predicted, never gold -> 0
    gold = ["a", "a", "a", "b", "d"]
    pred = ["a", "a", "b", "b", "c"]
    # d: tp 0, fn 1 -> 0; labels a, b, c, d
    assert M.macro_f1(pred, gold) == pytest.approx((4 / 5 + 2 / 3 + 0 + 0) / 4)


def test_macro_f1_edge_cases() -> None:
    assert M.macro_f1([], []) is None
    assert M.macro_f1(["x", "x"], ["x", "x"]) == 1.0  # one class, all right
    assert M.macro_f1(["y", "y"], ["x", "x"]) == 0.0  # one class, all wrong


def test_macro_f1_matches_sklearn_and_the_integer_path() -> None:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    gold = rng.integers(0, 12, 500)
    pred = np.where(rng.random(500) < 0.6, gold, rng.integers(0, 15, 500))
    expected = f1_score(gold, pred, average="macro")
    assert M.macro_f1(pred, gold) == pytest.approx(expected)
    assert M.macro_f1([f"L{x}" for x in pred], [f"L{x}" for x in gold]) == pytest.approx(expected)


def test_confusion_rows_are_gold() -> None:
    matrix = M.confusion(["N", "N", "L", "A"], ["N", "L", "L", "N"], ["N", "A", "L", "P"])
    assert matrix == [[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]


def test_mean_absolute_error() -> None:
    assert M.mean_absolute_error([9.8, 5.0], [7.5, 6.0]) == pytest.approx((2.3 + 1.0) / 2)
    assert M.mean_absolute_error([], []) is None


def test_recall_and_hit_at_k() -> None:
    pred = [["a", "b", "c"], ["x", "y"], ["p"]]
    gold = [["b", "c", "d", "e"], ["z"], []]  # the third record has no gold: not counted
    assert M.recall_at_k(pred, gold, 2) == pytest.approx((1 / 4 + 0) / 2)
    assert M.recall_at_k(pred, gold, 5) == pytest.approx((2 / 4 + 0) / 2)
    assert M.hit_at_k(pred, gold, 1) == 0.0
    assert M.hit_at_k(pred, gold, 2) == 0.5
    assert M.recall_at_k([[]], [[]], 5) is None


def test_set_f1_micro_and_macro() -> None:
    pred = [{"a", "b"}, set(), {"c"}]
    gold = [{"a"}, {"a"}, {"c", "d"}]
    # a: tp 1, fn 1 -> 2/3; b: fp 1 -> 0; c: tp 1 -> 1; d: fn 1 -> 0
    scores = M.set_f1(pred, gold)
    assert scores["micro_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 0 + 1 + 0) / 4)
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 4)
    assert M.set_f1([set()], [set()]) == {
        "micro_f1": None,
        "macro_f1": None,
        "precision": None,
        "recall": None,
    }
    assert M.set_f1([set()], [{"a"}])["precision"] is None  # nothing predicted


def test_reliability_bins_and_ece() -> None:
    conf = [0.05, 0.15, 0.95, 1.0, 0.92]
    correct = [False, True, True, True, False]
    out = M.reliability(conf, correct, bins=10)
    assert out["records"] == 5
    assert [b["records"] for b in out["bins"]] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    top = out["bins"][9]
    assert top["confidence"] == pytest.approx((0.95 + 1.0 + 0.92) / 3)
    assert top["accuracy"] == pytest.approx(2 / 3)
    assert out["bins"][2]["accuracy"] is None
    expected = (1 * 0.05 + 1 * abs(1 - 0.15) + 3 * abs(2 / 3 - top["confidence"])) / 5
    assert out["ece"] == pytest.approx(expected)
    assert M.reliability([], [])["ece"] is None
    with pytest.raises(UsageError):
        M.reliability([0.5], [True, False])


def test_frequency_buckets() -> None:
    assert [M.frequency_bucket(n) for n in (0, 1, 9, 10, 99, 100, 999, 1000, 50_000)] == [
        "unseen",
        "1-9",
        "1-9",
        "10-99",
        "10-99",
        "100-999",
        "100-999",
        "1000+",
        "1000+",
    ]
    with pytest.raises(UsageError):
        M.frequency_bucket(-1)
