"""Run a predictor over gold-labelled records and assemble the evaluation report.

:func:`evaluate_dataset` (a split of a built dataset) and :func:`evaluate_file`
(any NVD / CVE JSON 5 file) predict in batches and call
:func:`score_predictions`, which any producer of prediction objects can call
directly. The report is one JSON-ready dict; ``docs/evaluation.md`` defines
every figure in it:

* ``summary`` — a dozen headline figures, ``{name: {"model": x, "baseline": y}}``;
* ``run`` — what was evaluated: model, data, record counts, timings;
* ``cwe``, ``cvss``, ``capec``, ``attack`` — the figures, overall and broken
  down (by label source, by CWE training frequency), with the data of the
  calibration and confusion plots;
* ``consistency`` — whether the top CAPEC and ATT&CK agree with the predicted
  CWE through the catalogs (:mod:`vulntax.evaluate.consistency`);
* ``baseline`` — the majority baseline itself (to score files later without a dataset).

All floats are rounded to 4 digits; a figure with no record to average over is None.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.dataset.store import Dataset
from vulntax.errors import DatasetError, ModelError
from vulntax.evaluate.baseline import Baseline
from vulntax.evaluate.columns import Links, PredictionColumns, objects
from vulntax.evaluate.gold import Gold, check_split, ctid_from_dataset, from_dataset, from_file
from vulntax.evaluate.scoring import (
    TOP_K,
    CvssScores,
    CweScores,
    LinkScores,
    parent_technique,
    technique_level,
)

BATCH_SIZE = 512
SOURCES = ("nvd", "cna", "adp")
DIGITS = 4


def evaluate_dataset(
    predictor: Any,
    dataset: Dataset | str | Path,
    split: str,
    show_progress: bool = True,
    *,
    batch_size: int = BATCH_SIZE,
    baseline: Baseline | None = None,
) -> dict[str, Any]:
    """Evaluate ``predictor`` on one split of a built dataset, beside the majority baseline.

    The baseline is counted on the dataset's training split unless given. The
    CTID ATT&CK gold set is evaluated from every split (its CVEs are never trained on).
    """
    from vulntax.dataset.store import load_dataset

    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    check_split(ds, split)
    check_catalogs(predictor, ds.manifest.get("catalog"), f"the dataset {ds.path}")
    started = time.perf_counter()
    gold = from_dataset(ds, split)
    ctid = ctid_from_dataset(ds)
    if baseline is None:
        baseline = Baseline.from_dataset(ds, predictor.catalog)
    source = {"dataset": str(ds.path), "split": split}
    report = _run(predictor, gold, ctid, baseline, source, show_progress, batch_size, started)
    warning = trained_on(predictor.model.config, ds.manifest, split)
    if warning:
        report["run"]["warning"] = warning
    return report


def trained_on(config: dict[str, Any], manifest: dict[str, Any], split: str) -> str | None:
    """A warning if the model learnt from this split of a dataset with the same split dates."""
    data = config.get("training", {}).get("data", {})
    fitted = set(data.get("train_splits", [])) | set(data.get("refit_splits", []))
    same_dates = config.get("dataset", {}).get("split") == manifest.get("split")
    if split in fitted and same_dates:
        return (
            f"this model was trained on the {split} split of a dataset with the same split "
            "dates: these figures are not held-out"
        )
    return None


def evaluate_file(
    predictor: Any,
    path: str | Path,
    show_progress: bool = True,
    *,
    batch_size: int = BATCH_SIZE,
    baseline: Baseline | None = None,
    data_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluate ``predictor`` on the gold labels of an NVD / CVE JSON 5 file (or folder).

    Gold labels are made as the dataset builder makes them; ``data_dir`` supplies
    the analysts' ATT&CK mappings. Without a ``baseline`` its figures are None.
    """
    check_catalogs(predictor, None, "")
    started = time.perf_counter()
    gold, ingest = from_file(path, predictor.catalog, data_dir)
    ctid = gold.subset([i for i, t in enumerate(gold.attack_ctid) if t])
    source = {
        "input": str(path),
        "read": {"records": ingest.records, "skipped": ingest.skipped, "reasons": ingest.reasons},
    }
    return _run(predictor, gold, ctid, baseline, source, show_progress, batch_size, started)


def check_catalogs(predictor: Any, dataset_catalog: Any, dataset_name: str) -> None:
    """A clear error if the model, the dataset and the catalog in use disagree on versions."""
    used = dict(predictor.catalog.versions)
    model_catalog = getattr(getattr(predictor, "model", None), "config", {}).get("catalog")
    if model_catalog is not None and dict(model_catalog) != used:
        raise ModelError(
            f"the model was trained with catalogs {dict(model_catalog)} but the catalog in use "
            f"is {used}; pass --data-dir with the catalogs the model was trained with"
        )
    if dataset_catalog is not None and dict(dataset_catalog) != used:
        raise DatasetError(
            f"{dataset_name} was built with catalogs {dict(dataset_catalog)} but the model and "
            f"the catalog in use are {used}: its gold labels would not match the model's"
        )


def predict_gold(
    predictor: Any,
    gold: Gold,
    show_progress: bool = True,
    batch_size: int = BATCH_SIZE,
    label: str = "evaluating",
) -> PredictionColumns:
    """Predict every record of ``gold`` with ``predictor.predict_batch``, batch by batch."""
    from vulntax.errors import UsageError
    from vulntax.progress import progress

    if batch_size < 1:
        raise UsageError("batch size must be at least 1")
    columns = PredictionColumns()
    with progress(show_progress and len(gold) > 0) as bar:
        task = bar.add_task(label, total=len(gold))
        for start in range(0, len(gold), batch_size):
            items = list(
                zip(
                    gold.ids[start : start + batch_size],
                    gold.texts[start : start + batch_size],
                    strict=True,
                )
            )
            columns.extend(predictor.predict_batch(items))
            bar.advance(task, len(items))
    if len(columns) != len(gold):
        raise ModelError(f"the predictor answered {len(columns):,} of {len(gold):,} records")
    return columns


def score_predictions(
    predictions: PredictionColumns | Sequence[dict[str, Any]],
    gold: Gold,
    catalog: Any,
    baseline: Baseline | None = None,
    ctid: tuple[PredictionColumns | Sequence[dict[str, Any]], Gold] | None = None,
) -> dict[str, Any]:
    """The report sections of predictions (objects of the schema) against ``gold``.

    ``ctid`` is the CTID gold set and its predictions, scored as its own section.
    """
    pred = _columns(predictions)
    if len(pred) != len(gold):
        raise ModelError(f"{len(pred):,} predictions for {len(gold):,} gold records")
    base = PredictionColumns.constant(baseline.prediction, len(gold)) if baseline else None
    counts = baseline.cwe_train_counts if baseline else None
    classified = pred.array("ok")

    cwe_m = CweScores(pred, gold.cwe, catalog, counts)
    cwe_b = CweScores(base, gold.cwe, catalog, counts) if base else None
    cvss_m = CvssScores(pred, gold.cvss_vector, gold.cvss)
    cvss_b = CvssScores(base, gold.cvss_vector, gold.cvss) if base else None
    cwe_source, cvss_source = objects(gold.cwe_source), objects(gold.cvss_source)

    def pair(fn: Callable[[Any, np.ndarray], Any], m: Any, b: Any, mask: np.ndarray) -> Any:
        mask = mask & classified
        return {"model": fn(m, mask), "baseline": fn(b, mask) if b is not None else None}

    everything = np.ones(len(gold), dtype=bool)
    cwe: dict[str, Any] = {
        "overall": pair(CweScores.figures, cwe_m, cwe_b, everything),
        "by_source": {
            s: pair(CweScores.figures, cwe_m, cwe_b, cwe_source == s)
            for s in SOURCES
            if (cwe_source == s).any()
        },
        "by_frequency": (
            pair(CweScores.by_frequency, cwe_m, cwe_b, everything) if counts is not None else None
        ),
        "calibration": pair(CweScores.calibration, cwe_m, cwe_b, everything),
    }
    cvss: dict[str, Any] = {
        "overall": pair(CvssScores.figures, cvss_m, cvss_b, everything),
        "by_source": {
            s: pair(CvssScores.figures, cvss_m, cvss_b, cvss_source == s)
            for s in SOURCES
            if (cvss_source == s).any()
        },
        "confusion": cvss_m.confusion(classified),
        "calibration": pair(CvssScores.calibration, cvss_m, cvss_b, everything),
    }

    def links(
        name: str, column: str, rows_pred: Any, rows_gold: Gold, techniques: bool = False
    ) -> dict[str, Any]:
        p = _columns(rows_pred)
        gold_sets = getattr(rows_gold, column)

        def scores(listed: list[Links]) -> LinkScores:
            if techniques:  # sub-techniques counted as their parent technique
                return LinkScores(
                    p.ok,
                    [technique_level(x) for x in listed],
                    [list(dict.fromkeys(parent_technique(t) for t in g)) for g in gold_sets],
                )
            return LinkScores(p.ok, listed, gold_sets)

        m = scores(getattr(p, name))
        b = None
        if baseline is not None:
            b = scores(
                getattr(PredictionColumns.constant(baseline.prediction, len(rows_gold)), name)
            )
        mask = np.asarray(p.ok, dtype=bool)
        return {"model": m.figures(mask), "baseline": b.figures(mask) if b else None}

    attack: dict[str, Any] = {}
    for techniques in (False, True):
        sets = {
            "derived": links("attack", "attack", pred, gold, techniques),
            "kev": links("attack", "attack_kev", pred, gold, techniques),
            "ctid": links("attack", "attack_ctid", *ctid, techniques) if ctid else None,
        }
        if techniques:
            attack["technique_level"] = sets
        else:
            attack.update(sets)
    from vulntax.evaluate.consistency import consistency, gold_reach

    cross: dict[str, Any] = {"predicted": consistency(pred, catalog)}
    if ctid:  # the analysts' own techniques, reached from the gold CWE through the catalog?
        cross["ctid_gold_reach"] = gold_reach(ctid[1].cwe, ctid[1].attack_ctid, catalog)
    return {
        "cwe": cwe,
        "cvss": cvss,
        "capec": links("capec", "capec", pred, gold),
        "attack": attack,
        "consistency": cross,
    }


def summary(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The headline figures of a report: ``{name: {"model": x, "baseline": y}}``."""
    cwe, cvss = report["cwe"]["overall"], report["cvss"]["overall"]
    attack = report["attack"]
    picks: list[tuple[str, Any, str]] = [
        ("cwe_top1", cwe, "top1"),
        (f"cwe_top{TOP_K}", cwe, f"top{TOP_K}"),
        ("cwe_hierarchy", cwe, "hierarchy"),
        ("cwe_macro_f1", cwe, "macro_f1"),
        ("cwe_path_violation_rate", cwe, "path_violation_rate"),
        ("cwe_abstain_rate", cwe, "abstain_rate"),
        ("cwe_answered_accuracy", cwe, "answered_accuracy"),
        ("cwe_ece", report["cwe"]["calibration"], "ece"),
        ("cvss_mean_metric_accuracy", cvss, "mean_accuracy"),
        ("cvss_exact_vector", cvss, "exact_vector"),
        ("cvss_base_score_mae", cvss, "base_score_mae"),
        ("cvss_severity_accuracy", cvss, "severity_accuracy"),
        (f"capec_recall@{TOP_K}", report["capec"], f"recall@{TOP_K}"),
        (f"attack_recall@{TOP_K}", attack["derived"], f"recall@{TOP_K}"),
        (f"attack_ctid_recall@{TOP_K}", attack["ctid"], f"recall@{TOP_K}"),
    ]
    cross = report.get("consistency", {}).get("predicted", {})
    for name in ("capec", "attack", "capec_ranked"):
        picks.append((f"consistency_{name}", {"model": cross.get(name)}, "share"))
    out: dict[str, dict[str, Any]] = {}
    for name, section, key in picks:
        out[name] = {
            side: (section or {}).get(side, {}).get(key) if (section or {}).get(side) else None
            for side in ("model", "baseline")
        }
    return out


def rounded(value: Any, digits: int = DIGITS) -> Any:
    """``value`` with every float rounded (NaN and infinities become None)."""
    if isinstance(value, float | np.floating):
        number = float(value)
        return None if not math.isfinite(number) else round(number, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _run(
    predictor: Any,
    gold: Gold,
    ctid: Gold,
    baseline: Baseline | None,
    source: dict[str, Any],
    show_progress: bool,
    batch_size: int,
    started: float,
) -> dict[str, Any]:
    read_seconds = time.perf_counter() - started
    t0 = time.perf_counter()
    pred = predict_gold(predictor, gold, show_progress, batch_size)
    ctid_pred = predict_gold(predictor, ctid, show_progress, batch_size, "evaluating CTID set")
    predict_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    sections = score_predictions(pred, gold, predictor.catalog, baseline, (ctid_pred, ctid))
    score_seconds = time.perf_counter() - t0
    config = getattr(getattr(predictor, "model", None), "config", {})
    run = {
        **source,
        "model": {
            **getattr(predictor, "model_info", {}),
            "kind": config.get("kind"),
            "catalog": config.get("catalog"),
        },
        "catalog": dict(predictor.catalog.versions),
        "gold": gold.counts(),
        "classified": int(sum(pred.ok)),
        "unclassified": len(pred) - int(sum(pred.ok)),
        "ctid_records": len(ctid),
        # a learnt ATT&CK head (attack.json) was fitted on the CTID set: not held out then
        "ctid_in_attack_training": bool(
            getattr(getattr(predictor, "model", None), "attack_head", None) is not None
        ),
        "baseline": baseline.source if baseline else None,
        "seconds": {"read": read_seconds, "predict": predict_seconds, "score": score_seconds},
    }
    report: dict[str, Any] = {"summary": {}, "run": run, **sections}
    report["summary"] = summary(report)
    report["baseline"] = baseline.to_dict() if baseline else None
    out: dict[str, Any] = rounded(report)
    return out


def _columns(predictions: PredictionColumns | Sequence[dict[str, Any]]) -> PredictionColumns:
    if isinstance(predictions, PredictionColumns):
        return predictions
    return PredictionColumns.of(predictions)
