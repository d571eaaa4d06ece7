"""ATT&CK from the analysts' mappings: grouped k-fold CV and a publication-year split.

Usage (from the repository root)::

    python bench/attack/cv.py --model runs/linear --dataset runs/dataset \
        --data-dir ../shared/data [--folds 5] [--year 2019] [--knn-shares 0,0.3,0.5]

The mapper (:mod:`vulntax.models.attack_learnt`) is fitted on KEV + CTID rows of
the training folds and scored on the held-out fold. Its CWE / CVSS inputs are the
given linear model's predictions; the model was trained without the CTID CVEs, so
on CTID rows they are predictions for unseen CVEs (KEV rows of the model's own
training split are scored apart, for that reason). Settings (C, feature blocks)
are chosen per outer fold by an inner grouped 3-fold CV on the training folds
only; with ``--knn-shares`` the share of a nearest-neighbour vote over the
training rows is chosen with them. Beside it: the most frequent techniques of
the training folds, and the same mapper given the gold CWE (one-hot) instead of
the predicted distribution. Prints the figures; writes ``--out``
(bench/results/attack-cv.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.evaluate.metrics import hit_at_k, recall_at_k
from vulntax.evaluate.scoring import parent_technique
from vulntax.models import attack_learnt
from vulntax.models.analyst_rows import analyst_rows, gold_cwe, model_inputs

KS = tuple(range(1, 11))
GRID = [
    attack_learnt.AttackSettings(C=c, cvss_weight=w, cwe_weight=w)
    for c in (1.0, 4.0, 16.0)
    for w in (0.0, 1.0, 3.0)
]
KNN = (0.0,)  # shares of the nearest training rows' vote tried with the grid (--knn-shares)
TYPES = ("exploitation_technique", "primary_impact", "secondary_impact")


def folds_of(groups: np.ndarray, k: int, seed: int) -> np.ndarray:
    """(N,) fold number per row; every member of a group in the same fold."""
    unique = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of_group = {int(g): i % k for i, g in zip(range(len(unique)), unique[order], strict=True)}
    return np.array([fold_of_group[int(g)] for g in groups])


def ranked(probs: np.ndarray, techniques: list[str], k: int = 10) -> list[list[str]]:
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[techniques[j] for j in row] for row in order.tolist()]


def roll_up(lists: list[list[str]]) -> list[list[str]]:
    return [list(dict.fromkeys(parent_technique(t) for t in x)) for x in lists]


def scores(pred: list[list[str]], gold: list[list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {"records": sum(1 for g in gold if g)}
    for k in KS:
        out[f"recall@{k}"] = recall_at_k(pred, gold, k)
    out["hit@5"] = hit_at_k(pred, gold, 5)
    out["precision@5"] = float(
        np.mean([len(set(p[:5]) & set(g)) / 5 for p, g in zip(pred, gold, strict=True) if g])
    )
    return out


def fit_predict(
    settings: attack_learnt.AttackSettings,
    train: np.ndarray,
    test: np.ndarray,
    inputs: tuple[Any, np.ndarray, np.ndarray],
    gold: list[list[str]],
) -> list[list[str]]:
    x, cvss, cwe = inputs
    model = attack_learnt.fit(x[train], cvss[train], cwe[train], [gold[i] for i in train], settings)
    probs = model.probabilities(x[test], cvss[test], cwe[test])
    return ranked(probs, model.techniques)


def choose(
    train: np.ndarray,
    groups: np.ndarray,
    inputs: tuple[Any, np.ndarray, np.ndarray],
    gold: list[list[str]],
    seed: int,
) -> attack_learnt.AttackSettings:
    """The grid setting and vote share with the best inner 3-fold CV recall@5 on ``train``."""
    from dataclasses import replace

    x, cvss, cwe = inputs
    inner = folds_of(groups[train], 3, seed + 1)
    best, best_score = GRID[0], -1.0
    for settings in GRID:
        hits: dict[float, list[float]] = {a: [] for a in KNN}
        for f in range(3):
            tr, te = train[inner != f], train[inner == f]
            model = attack_learnt.fit(x[tr], cvss[tr], cwe[tr], [gold[i] for i in tr], settings)
            p, votes = model.probabilities(x[te], cvss[te], cwe[te]), model.vote(x[te])
            for a in KNN:
                pred = ranked((1 - a) * p + a * votes, model.techniques)
                hits[a].append(recall_at_k(pred, [gold[i] for i in te], 5) or 0.0)
        for a in KNN:
            if float(np.mean(hits[a])) > best_score:
                best, best_score = replace(settings, knn_weight=a), float(np.mean(hits[a]))
    return best


def frequent(train: np.ndarray, gold: list[list[str]], n: int) -> list[list[str]]:
    counts = Counter(t for i in train for t in set(gold[i]))
    top = [t for t, _ in counts.most_common(10)]
    return [top] * n


def evaluate(
    name: str,
    splits: list[tuple[np.ndarray, np.ndarray]],
    rows: Any,
    inputs: tuple[Any, np.ndarray, np.ndarray],
    inputs_true_cwe: tuple[Any, np.ndarray, np.ndarray],
    groups: np.ndarray,
    model_train: np.ndarray,
) -> dict[str, Any]:
    gold = rows.gold
    n = len(rows)
    preds: dict[str, list[list[str]]] = {
        "mapper": [[]] * n,
        "mapper_true_cwe": [[]] * n,
        "frequent": [[]] * n,
    }
    chosen = []
    for s, (train, test) in enumerate(splits):
        settings = choose(train, groups, inputs, gold, s)
        chosen.append(settings.__dict__)
        for key, feats in (("mapper", inputs), ("mapper_true_cwe", inputs_true_cwe)):
            for i, p in zip(test, fit_predict(settings, train, test, feats, gold), strict=True):
                preds[key][i] = p
        for i, p in zip(test, frequent(train, gold, len(test)), strict=True):
            preds["frequent"][i] = p
    tested = np.zeros(n, dtype=bool)
    for _, test in splits:
        tested[test] = True
    result: dict[str, Any] = {"settings": chosen}
    for system, pred in preds.items():
        sets: dict[str, Any] = {}
        for gold_name, column, keep in (
            ("ctid", rows.ctid, tested),
            ("kev_unseen", rows.kev, tested & ~model_train),
        ):
            idx = [i for i in range(n) if keep[i] and column[i]]
            p, g = [pred[i] for i in idx], [column[i] for i in idx]
            entry = {"technique": scores(p, g), "rolled_up": scores(roll_up(p), roll_up(g))}
            if gold_name == "ctid":
                for kind in TYPES:  # analysts' techniques of one mapping type
                    typed = [(pred[i], rows.types[i].get(kind, [])) for i in idx]
                    typed = [(a, b) for a, b in typed if b]
                    entry[kind] = scores([a for a, _ in typed], [b for _, b in typed])
            sets[gold_name] = entry
        result[system] = sets
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--year", type=int, default=2019, help="test on CVEs published from then")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench/results/attack-cv.json")
    parser.add_argument("--knn-shares", default="0", help="comma-separated, e.g. 0,0.3,0.5")
    args = parser.parse_args()
    global KNN
    KNN = tuple(float(v) for v in args.knn_shares.split(","))

    from vulntax.dataset.store import load_dataset
    from vulntax.models.linear import LinearModel
    from vulntax.taxonomy import load_catalog

    started = time.perf_counter()
    catalog = load_catalog(args.data_dir)
    model = LinearModel.load(Path(args.model))
    rows = analyst_rows(
        load_dataset(args.dataset, verify=False), catalog, Path(args.data_dir) / "attack_gold"
    )
    inputs = model_inputs(model, rows.texts)
    true_cwe = (inputs[0], inputs[1], gold_cwe(rows, model.labels.cwe, inputs[2], catalog))
    groups = rows.groups()
    model_train = np.array(
        [s == "train" and not c for s, c in zip(rows.split, rows.ctid, strict=True)]
    )
    print(
        f"{len(rows)} analyst rows (CTID {sum(1 for c in rows.ctid if c)}, "
        f"KEV {sum(1 for k in rows.kev if k)}), {len(np.unique(groups))} groups"
    )
    fold = folds_of(groups, args.folds, args.seed)
    idx = np.arange(len(rows))
    cv = [(idx[fold != f], idx[fold == f]) for f in range(args.folds)]
    year = np.array([p is not None and p.year >= args.year for p in rows.published])
    by_year = [(idx[~year], idx[year])]
    report = {
        "command": " ".join(sys.argv),
        "rows": len(rows),
        "groups": len(np.unique(groups)),
        "year_split": {"year": args.year, "train": int((~year).sum()), "test": int(year.sum())},
        "cv": evaluate("cv", cv, rows, inputs, true_cwe, groups, model_train),
        "year": evaluate("year", by_year, rows, inputs, true_cwe, groups, model_train),
        "seconds": round(time.perf_counter() - started, 1),
        "load": os.getloadavg(),
    }
    for protocol in ("cv", "year"):
        for system in ("mapper", "mapper_true_cwe", "frequent"):
            for gold_name, entry in report[protocol][system].items():
                t, r = entry["technique"], entry["rolled_up"]
                print(
                    f"{protocol:5} {system:16} {gold_name:10} n={t['records']:4} "
                    f"R@5 {t['recall@5']:.3f} H@5 {t['hit@5']:.3f} P@5 {t['precision@5']:.3f} | "
                    f"rolled-up R@5 {r['recall@5']:.3f} H@5 {r['hit@5']:.3f}"
                )
                for kind in TYPES:
                    if kind in entry:
                        e = entry[kind]
                        print(
                            f"{'':40}{kind:24} n={e['records']:4} R@5 {e['recall@5']:.3f} "
                            f"H@5 {e['hit@5']:.3f} P@5 {e['precision@5']:.3f}"
                        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"{report['seconds']} s, load {report['load']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
