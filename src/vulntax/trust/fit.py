"""Fit the trust checks of a linear model: detector, thresholds, measurements.

Steps, each on data the previous one did not choose:

1. **detector** — logistic regression (scikit-learn, liblinear) on the model's tf-idf
   columns plus the dense signals of :func:`vulntax.trust.model.dense_features`:
   positives are training-split descriptions (a random sample, plus the newest ones:
   description styles drift, e.g. the Linux kernel's commit-message CVEs since 2024) and
   one half of the validation split (random, seeded), with the first halves of some, so
   that a cut description still counts as one; negatives are the offline corpus of
   :mod:`vulntax.trust.corpus` minus its held-out files;
2. **detector threshold** — the ``ood_budget`` quantile of the detector's p on the
   *other* half of the validation split (so about that share of real descriptions is
   flagged); the held-out negatives measure what it catches;
3. **CVSS threshold** — the ``cvss_budget`` quantile of the CVSS confidence on the
   validation split, from ``heldout_model`` when given (a model refit on the validation
   split is over-confident there; its train-only twin with the same temperatures is not).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import ModelError
from vulntax.text import model_input
from vulntax.trust.model import (
    DENSE,
    Detector,
    Settings,
    Trust,
    cvss_confidence,
    dense_features,
    known_share,
    vocabulary_sha256,
)
from vulntax.trust.signals import signals

POSITIVES = 20_000  # random training descriptions the detector learns from
NEWEST = 10_000  # and the newest training descriptions
HALVES = 10_000  # of which this many are added again cut to their first half


def fit_trust(
    model_dir: Path,
    dataset_dir: Path,
    heldout_model: Path | None = None,
    ood_budget: float = 0.01,
    cvss_budget: float = 0.05,
    negatives_per_kind: int = 12_000,
    seed: int = 0,
    log: Any = print,
) -> Trust:
    from vulntax.dataset.store import CVSS_COLUMNS, load_dataset
    from vulntax.models import load_model
    from vulntax.trust.corpus import negative_corpus

    started = time.perf_counter()
    model: Any = load_model(model_dir)
    features = getattr(model, "features", None)
    if features is None:
        raise ModelError(f"{model_dir}: trust checks need a model with tf-idf columns (linear)")
    dataset = load_dataset(dataset_dir, verify=False)
    columns = ["description", *CVSS_COLUMNS]
    train = dataset.columns("train", ["description", "published"])
    by_date = [
        t
        for _, t in sorted(
            zip(train["published"], train["description"], strict=True), key=lambda p: str(p[0])
        )
    ]
    whole = dataset.columns("validation", columns)
    rng = random.Random(seed)
    learn = set(rng.sample(range(len(whole["description"])), len(whole["description"]) // 2))
    valid = {k: [v[i] for i in range(len(v)) if i not in learn] for k, v in whole.items()}
    older, newest = by_date[:-NEWEST], by_date[-NEWEST:]
    chosen = rng.sample(older, min(POSITIVES, len(older))) + newest
    chosen += [whole["description"][i] for i in sorted(learn)]
    positives = [model_input(t) for t in chosen]
    rng.shuffle(positives)
    positives += [_first_half(t) for t in positives[:HALVES]]
    corpus = negative_corpus(negatives_per_kind, seed)
    fit_neg = [c for c in corpus if not c.held_out]
    held_neg = [c for c in corpus if c.held_out]
    log(
        f"detector data: {len(positives):,} descriptions, {len(fit_neg):,} other texts "
        f"({dict(Counter(c.kind for c in fit_neg))}), {len(held_neg):,} held out "
        f"({time.perf_counter() - started:.0f} s)"
    )

    texts = positives + [model_input(c.text) for c in fit_neg]
    y = np.r_[np.ones(len(positives)), np.zeros(len(fit_neg))]
    trust = Trust(Settings(), None, features.vocabulary)
    detector = _fit_detector(texts, y, features, trust)
    trust.detector = detector
    log(f"detector fitted ({time.perf_counter() - started:.0f} s)")

    valid_texts = [model_input(t) for t in valid["description"]]
    p_valid, sig_valid = trust.p_vulnerability(valid_texts, features.transform(valid_texts))
    threshold = float(np.quantile(p_valid, ood_budget))
    held_texts = [model_input(c.text) for c in held_neg]
    p_held, _ = trust.p_vulnerability(held_texts, features.transform(held_texts))
    caught = {
        kind: round(
            float(
                np.mean(
                    [p < threshold for p, c in zip(p_held, held_neg, strict=True) if c.kind == kind]
                )
            ),
            4,
        )
        for kind in sorted({c.kind for c in held_neg})
    }

    cvss_threshold, cvss_measured = _cvss_threshold(
        heldout_model or model_dir, valid_texts, valid, cvss_budget
    )
    trust.settings = Settings(
        ood_threshold=threshold,
        cvss_min_confidence=cvss_threshold,
        vocabulary_sha256=vocabulary_sha256(features.terms),
        measured={
            "dataset": str(dataset_dir),
            "thresholds_from": "validation split",
            "threshold_records": len(valid_texts),
            "cvss_threshold_model": str(heldout_model or model_dir),
            "ood_budget": ood_budget,
            "validation_flagged_not_vulnerability": round(float(np.mean(p_valid < threshold)), 4),
            "held_out_negatives": len(held_neg),
            "held_out_negatives_caught": caught,
            "validation_flagged_not_english": round(
                float(
                    np.mean(
                        [s.not_english(known_share(s, trust.vocabulary, True)) for s in sig_valid]
                    )
                ),
                4,
            ),
            **cvss_measured,
            "negative_sources": dict(Counter(c.kind for c in corpus)),
        },
    )
    log(f"trust fitted in {time.perf_counter() - started:.0f} s: {trust.settings.measured}")
    return trust


def _fit_detector(texts: list[str], y: np.ndarray, features: Any, trust: Trust) -> Detector:
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    x = features.transform(texts)
    dense = np.array(
        [dense_features(signals(t), trust.vocabulary) for t in texts], dtype=np.float32
    )
    clf = LogisticRegression(C=4.0, solver="liblinear", class_weight="balanced", max_iter=200)
    clf.fit(sp.hstack([x, sp.csr_matrix(dense)], format="csr"), y)
    coef = clf.coef_[0].astype(np.float32)
    n = x.shape[1]
    assert len(coef) == n + len(DENSE)
    return Detector(coef[:n], coef[n:], float(clf.intercept_[0]))


def _cvss_threshold(
    model_dir: Path, texts: list[str], valid: dict[str, list[Any]], budget: float
) -> tuple[float, dict[str, Any]]:
    """The ``budget`` quantile of the CVSS confidence, and the accuracy with and without it."""
    from vulntax.models import load_model

    model = load_model(model_dir)
    output = model.predict_batch(texts)
    confidence = cvss_confidence(output.cvss)
    right = np.zeros(len(texts))
    labelled = np.zeros(len(texts), dtype=bool)
    for metric, probs in output.cvss.items():
        values = model.labels.cvss[metric]
        chosen = probs.argmax(axis=1)
        gold = valid[metric]
        has = np.array([g is not None for g in gold])
        labelled |= has
        right += np.array(
            [g is not None and values[c] == g for c, g in zip(chosen, gold, strict=True)]
        )
    accuracy = right / len(output.cvss)
    threshold = float(np.quantile(confidence[labelled], budget)) if labelled.any() else 0.0
    answered = labelled & (confidence >= threshold)
    return threshold, {
        "cvss_budget": budget,
        "validation_cvss_abstained": round(float(np.mean(confidence[labelled] < threshold)), 4),
        "validation_cvss_mean_accuracy": round(float(accuracy[labelled].mean()), 4),
        "validation_cvss_mean_accuracy_answered": round(float(accuracy[answered].mean()), 4),
    }


def _first_half(text: str) -> str:
    words = text.split()
    return " ".join(words[: max(1, len(words) // 2)])
