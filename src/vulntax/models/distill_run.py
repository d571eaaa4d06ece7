"""A distilled linear model from a training config, a dataset and a teacher, as a model directory.

The counterpart of :func:`vulntax.train.train_model` for :mod:`vulntax.models.distill`::

    session = open_session(load_config("configs/linear.toml"), dataset, teacher, data_dir)
    metrics = fit_and_save(session, Mix("fill", alpha=1.0), out_dir)

:func:`open_session` reads the data, has the teacher label the training descriptions (cached)
and makes the features once; :func:`fit_and_save` fits one mix, saves the directory
``vulntax train`` would write (weights, vocabulary, labels, config, ``metrics.json`` measured on
the calibration split, model card), and with ``data.refit_splits`` refits as ``train`` does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import DatasetError
from vulntax.models.distill import Mix, Prepared, distill_meta, fit_distilled, prepare
from vulntax.models.teacher import TeacherLabels, teacher_labels


@dataclass
class Session:
    config: Any  # vulntax.train.TrainConfig (kind linear)
    dataset: Any
    dataset_dir: Path
    data_dir: Path | None
    catalog: Any
    train: Any
    calibration: Any
    teacher_dir: Path
    teacher: TeacherLabels
    prepared: Prepared
    cache_dir: Path | None
    show_progress: bool


def open_session(
    config: Any,
    dataset_dir: str | Path,
    teacher_dir: str | Path,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    show_progress: bool = False,
    log: Any = print,
    newest: int | None = None,
) -> Session:
    """``newest``: the teacher labels only the newest N training rows (the cost of a slow
    teacher); older rows get zero probabilities, which neither kind of mix uses."""
    from vulntax.models.data import cwe_roll_up
    from vulntax.train import training_data

    if config.kind != "linear":
        raise DatasetError(f"distillation fits a linear model, not {config.kind!r}")
    data = config.data
    dataset, catalog, train, calibration = training_data(data, dataset_dir, data_dir, log)
    classes = cwe_roll_up([g[0] for g in train.cwe_gold if g], catalog.cwe, data.cwe_min_count)
    first = max(0, len(train.texts) - newest) if newest else 0
    teacher = teacher_labels(teacher_dir, train.texts[first:], cache_dir, show_progress, log)
    if first:
        teacher = pad_front(teacher, first)
    prepared = prepare(config.params, train, calibration, classes, catalog, teacher, log)
    return Session(
        config,
        dataset,
        Path(dataset_dir),
        Path(data_dir) if data_dir else None,
        catalog,
        train,
        calibration,
        Path(teacher_dir),
        teacher,
        prepared,
        Path(cache_dir) if cache_dir else None,
        show_progress,
    )


def model_meta(session: Session, mix: Mix) -> dict[str, Any]:
    """config.json's description of the model, as train.py writes it, plus the distillation."""
    from vulntax import __version__
    from vulntax.config import to_dict

    config = session.config
    return {
        "name": config.name,
        "version": config.version,
        "description": (config.description + f" Distilled from a teacher ({mix.name}).").strip(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "vulntax_version": __version__,
        "catalog": dict(session.catalog.versions),
        "dataset": {
            "path": str(session.dataset_dir),
            "examples_sha256": session.dataset.manifest["files"]["examples.parquet"]["sha256"],
            "split": session.dataset.manifest["split"],
        },
        "training": config.to_dict(),
        "decoding": to_dict(config.decoding),
        "distillation": distill_meta(mix, session.teacher_dir, session.teacher),
    }


def fit_and_save(
    session: Session, mix: Mix, out_dir: str | Path, log: Any = print
) -> dict[str, Any]:
    """Fit ``mix``, save the model directory, evaluate it; returns ``metrics.json``'s content."""
    from vulntax.evaluate import evaluate_dataset
    from vulntax.predictor import Predictor
    from vulntax.train import write_report

    started = time.perf_counter()
    s, params = session, session.config.params
    meta = model_meta(s, mix)
    model = fit_distilled(meta, params, s.prepared, mix, s.train, s.calibration, s.catalog, log)
    out = Path(out_dir)
    model.save(out)
    fit_seconds = round(time.perf_counter() - started, 1)
    split = s.config.data.calibration_split
    predictor = Predictor(out, data_dir=s.data_dir)
    report = evaluate_dataset(predictor, s.dataset, split, show_progress=False)
    metrics = {"split": split, "fit_seconds": fit_seconds, **report}
    refit_splits = s.config.data.refit_splits
    if refit_splits:
        model = _refit(s, mix, meta, model.temperatures(), log)
        model.save(out)
        metrics["refit"] = {
            "splits": refit_splits,
            "note": "the figures were measured before the refit, which then also learnt "
            "from the evaluated split",
        }
    write_report(out, model.config, metrics)
    return metrics


def _refit(
    s: Session, mix: Mix, meta: dict[str, Any], temperatures: dict[str, float], log: Any
) -> Any:
    """The model fitted again on ``refit_splits`` (teacher labels for them too, cached)."""
    from vulntax.models.data import cwe_roll_up, load_examples

    data = s.config.data
    refit = load_examples(s.dataset, data.refit_splits, data, training=True)
    log(f"refitting on {len(refit):,} examples of {', '.join(data.refit_splits)}")
    classes = cwe_roll_up([g[0] for g in refit.cwe_gold if g], s.catalog.cwe, data.cwe_min_count)
    teacher = teacher_labels(s.teacher_dir, refit.texts, s.cache_dir, s.show_progress, log)
    prepared = prepare(s.config.params, refit, s.calibration, classes, s.catalog, teacher, log)
    return fit_distilled(
        meta, s.config.params, prepared, mix, refit, s.calibration, s.catalog, log, temperatures
    )


def pad_front(labels: Any, n: int) -> Any:
    """``labels`` preceded by ``n`` rows of zero probability (rows the teacher did not label)."""
    import dataclasses

    def pad(a: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros((n, *a.shape[1:]), dtype=a.dtype), a])

    return dataclasses.replace(
        labels,
        cwe_index=pad(labels.cwe_index),
        cwe_p=pad(labels.cwe_p),
        cvss={m: (values, pad(probs)) for m, (values, probs) in labels.cvss.items()},
    )
