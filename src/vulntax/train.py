"""``vulntax train``: config + dataset → a saved model directory.

The config file (TOML or JSON) has a few top-level settings, a ``[data]``
table (:class:`~vulntax.models.data.DataConfig`), a ``[decoding]`` table
(:class:`~vulntax.predictor.Decoding`) and one table named after the model kind
with that kind's settings, e.g. ``[linear]``. Every key is checked; the
resolved config is saved in the model's ``config.json``.

After fitting, the model is evaluated on the calibration split (held out from
fitting) and the figures go to ``metrics.json`` (a CVSS-only kind such as ``lsnet``:
its CVSS figures alone); the model card (``README.md``) is written from the config
and those figures.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vulntax import __version__
from vulntax.config import from_dict, read_config_file, to_dict
from vulntax.errors import ConfigError, DatasetError
from vulntax.models.base import CARD, METRICS
from vulntax.models.data import DataConfig, cwe_roll_up, load_examples
from vulntax.models.persistence import write_json
from vulntax.predictor import Decoding


@dataclass
class TrainConfig:
    kind: str = "linear"
    name: str = "vulntax-linear"
    version: str = "1"
    description: str = ""
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    decoding: Decoding = field(default_factory=Decoding)
    params: Any = None  # the kind's own config dataclass, from the table named after the kind

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in to_dict(self).items() if k != "params"}
        out[self.kind] = to_dict(self.params) if self.params is not None else {}
        return out


def parse_config(data: dict[str, Any]) -> TrainConfig:
    """A TrainConfig from a dict (e.g. a parsed TOML file), strictly validated."""
    from vulntax.models import KINDS, model_class

    kind = data.get("kind", "linear")
    if kind not in KINDS:
        raise ConfigError(
            f"kind: unknown model kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}"
        )
    section = data.get(kind, {})
    others = sorted(k for k in data if k in KINDS and k != kind)
    if others:
        raise ConfigError(f"{others[0]}: settings for another model kind in a {kind!r} config")
    top = {k: v for k, v in data.items() if k != kind}
    config = from_dict(TrainConfig, top)
    config.params = from_dict(model_class(kind).Config, section, kind)
    return config


def load_config(path: str | Path | None) -> TrainConfig:
    return parse_config(read_config_file(path) if path else {})


def training_data(
    data: DataConfig, dataset_dir: str | Path, data_dir: str | Path | None, log: Any = print
) -> tuple[Any, Any, Any, Any]:
    """(dataset, catalog, training examples, calibration examples) for a fit.

    The dataset must have been built with the catalogs in use (else a DatasetError).
    """
    from vulntax.dataset.store import load_dataset
    from vulntax.taxonomy import load_catalog

    dataset = load_dataset(dataset_dir)
    catalog = load_catalog(Path(data_dir) if data_dir else None)
    if dataset.manifest.get("catalog") != dict(catalog.versions):
        raise DatasetError(
            f"the dataset was built with catalogs {dataset.manifest.get('catalog')} but the "
            f"catalog in use is {dict(catalog.versions)}; pass --data-dir with the same catalogs"
        )
    train = load_examples(dataset, data.train_splits, data, training=True)
    calibration = load_examples(
        dataset, [data.calibration_split], data, training=False, sources=True
    )
    log(f"training on {len(train):,} examples, calibrating on {len(calibration):,}")
    return dataset, catalog, train, calibration


def train_model(
    config: TrainConfig,
    dataset_dir: str | Path,
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Train, save and evaluate; returns the metrics written to ``metrics.json``."""
    from vulntax.evaluate import evaluate_dataset
    from vulntax.models import model_class
    from vulntax.predictor import Predictor

    started = time.perf_counter()
    dataset, catalog, train, calibration = training_data(config.data, dataset_dir, data_dir, log)
    first_labels = [g[0] for g in train.cwe_gold if g]
    classes = cwe_roll_up(first_labels, catalog.cwe, config.data.cwe_min_count)

    meta = model_meta(config, dataset_dir, dataset, catalog)
    cls = model_class(config.kind)
    model = cls.fit(meta, config.params, train, calibration, classes, catalog, log=log)
    out = Path(out_dir)
    model.save(out)
    fit_seconds = round(time.perf_counter() - started, 1)
    log(f"saved {config.kind} model to {out} ({fit_seconds} s)")

    if model.labels.cwe:
        predictor = Predictor(out, data_dir=data_dir)
        report = evaluate_dataset(
            predictor, dataset, config.data.calibration_split, show_progress=False
        )
    else:  # a CVSS-only model (lsnet) is measured alone; it serves inside a composite
        from vulntax.evaluate.cvss_only import evaluate_cvss

        report = evaluate_cvss(model, dataset, config.data.calibration_split, catalog)
    metrics = {"split": config.data.calibration_split, "fit_seconds": fit_seconds, **report}
    if config.data.refit_splits:
        # the figures above stay those of the calibrated model; the shipped weights learn
        # from the newer splits too, with the same settings and temperatures
        refit = load_examples(dataset, config.data.refit_splits, config.data, training=True)
        log(f"refitting on {len(refit):,} examples of {', '.join(config.data.refit_splits)}")
        refit_labels = [g[0] for g in refit.cwe_gold if g]
        refit_classes = cwe_roll_up(refit_labels, catalog.cwe, config.data.cwe_min_count)
        model = cls.fit(
            meta,
            config.params,
            refit,
            calibration,
            refit_classes,
            catalog,
            log=log,
            temperatures=model.temperatures(),
        )
        model.save(out)
        metrics["refit"] = {
            "splits": config.data.refit_splits,
            "examples": len(refit),
            "note": "the figures were measured before the refit, which then also learnt "
            "from the evaluated split",
        }
    write_report(out, model.config, metrics)
    return metrics


def model_meta(
    config: TrainConfig, dataset_dir: str | Path, dataset: Any, catalog: Any
) -> dict[str, Any]:
    """What a trained model's config.json records about how it was made."""
    return {
        "name": config.name,
        "version": config.version,
        "description": config.description,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "vulntax_version": __version__,
        "catalog": dict(catalog.versions),
        "dataset": {
            "path": str(dataset_dir),
            "examples_sha256": dataset.manifest["files"]["examples.parquet"]["sha256"],
            "split": dataset.manifest["split"],
        },
        "training": config.to_dict(),
        "decoding": to_dict(config.decoding),
    }


def evaluate_saved(
    out: str | Path, dataset_dir: str | Path, data_dir: str | Path | None = None
) -> dict[str, Any]:
    """Evaluate a saved model on its calibration split (as ``vulntax train`` does after
    fitting) and write its ``metrics.json`` and model card; e.g. a model trained elsewhere."""
    from vulntax.dataset.store import load_dataset
    from vulntax.evaluate import evaluate_dataset
    from vulntax.models.base import CONFIG
    from vulntax.models.persistence import read_json
    from vulntax.predictor import Predictor

    folder = Path(out)
    config = read_json(folder / CONFIG, "model config")
    split = config.get("training", {}).get("data", {}).get("calibration_split", "validation")
    predictor = Predictor(folder, data_dir=data_dir)
    report = evaluate_dataset(predictor, load_dataset(dataset_dir), split, show_progress=False)
    metrics = {"split": split, **report}
    write_report(folder, config, metrics)
    return metrics


def write_report(folder: Path, config: dict[str, Any], metrics: dict[str, Any]) -> None:
    """A model directory's ``metrics.json`` and its model card (``README.md``)."""
    write_json(folder / METRICS, metrics)
    (folder / CARD).write_text(model_card(config, metrics, folder), encoding="utf-8")


def model_card(config: dict[str, Any], metrics: dict[str, Any], path: Path) -> str:
    """A short Markdown model card: what the model is, how it was made, how well it does."""
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    cvss_only = config["kind"] in CVSS_ONLY_KINDS
    data = config.get("training", {}).get("data", {})
    catalogs = ", ".join(f"{k} {v}" for k, v in config.get("catalog", {}).items())
    lines = [
        f"# {config.get('name', config['kind'])} {config.get('version', '')}".rstrip(),
        "",
        config.get("description") or f"A vulntax model of kind `{config['kind']}`.",
        "",
        f"- kind: `{config['kind']}`; created {config.get('created', '?')} "
        f"with vulntax {config.get('vulntax_version', '?')}",
        f"- catalogs: {catalogs}",
        f"- dataset split: {json.dumps(config.get('dataset', {}).get('split', {}))}",
        f"- fitted on {data.get('train_splits')} ({_windows(data, cvss_only)}), "
        f"calibrated on `{data.get('calibration_split')}`"
        + (f", then refit on {data['refit_splits']}" if data.get("refit_splits") else ""),
        *_history(config.get("lsnet_history")),
        f"- size on disk: {size / 1e6:.1f} MB",
        "",
        f"## Held-out figures ({metrics.get('split')} split)",
        "",
    ]
    summary = metrics.get("summary", {})
    if summary:
        lines += ["| metric | model | majority baseline |", "|---|---|---|"]
        for name, row in summary.items():
            lines.append(f"| {name} | {row.get('model')} | {row.get('baseline')} |")
    lines += [
        "",
        "The full report is `metrics.json`; held-out test figures of this recipe are in "
        f"`{RESULTS_DOCS.get(config['kind'], 'docs/results.md')}`. Limits: trained on English "
        "NVD and CNA descriptions, so its labels are as noisy as theirs; CVSS follows NVD "
        "analysts' scoring"
        + (
            "; it predicts CVSS only and serves inside a composite beside a CWE model."
            if cvss_only
            else "; CAPEC comes from the CWE through MITRE's catalog links."
        ),
        "",
    ]
    return "\n".join(lines)


CVSS_ONLY_KINDS = ("lsnet",)
RESULTS_DOCS = {"multitask": "docs/multitask.md", "lsnet": "docs/lsnet.md"}


def _windows(data: dict[str, Any], cvss_only: bool) -> str:
    cvss = data.get("cvss_window_years")
    text = f"CVSS: {f'the last {cvss} years' if cvss else 'all years'}"
    return text if cvss_only else f"CWE: the last {data.get('cwe_window_years')} years; {text}"


def _history(history: Any) -> list[str]:
    """The training run's length, where a kind records it (lsnet's time budget)."""
    if not isinstance(history, dict) or "steps" not in history:
        return []
    return [
        f"- trained {history['steps']:,} of {history.get('planned_steps', '?'):,} planned steps "
        f"in {history.get('seconds', '?')} s ({history.get('stopped', '?')})"
    ]


def config_template(kind: str = "linear") -> str:
    """The default config of a kind, as TOML text (``vulntax train --print-config``)."""
    from vulntax.models import model_class

    config = TrainConfig(kind=kind, name=f"vulntax-{kind}", params=model_class(kind).Config())
    return _toml(config.to_dict())


def _toml(data: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return str(v)

    scalars = [
        f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict) and v is not None
    ]
    tables = []
    for k, v in data.items():
        if isinstance(v, dict):
            body = [
                f"{kk} = {value(vv)}"
                for kk, vv in v.items()
                if vv is not None and not isinstance(vv, dict)
            ]
            tables.append(f"[{k}]\n" + "\n".join(body))
    return "\n".join(scalars) + "\n\n" + "\n\n".join(tables) + "\n"
