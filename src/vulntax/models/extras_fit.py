"""Fit the learnt ATT&CK head and the CAPEC ranker onto an existing linear model.

:func:`fit_extras` reads a linear model directory, a built dataset and the data
directory (catalogs, ``attack_gold/``) and writes four files beside the
model's own, which it does not touch:

* ``attack.safetensors`` + ``attack.json`` — :mod:`vulntax.models.attack_learnt`,
  fitted on every analyst row of the dataset (KEV + CTID);
* ``capec_rank.safetensors`` + ``capec_rank.json`` — :mod:`vulntax.models.capec_rank`,
  fitted on the (record, candidate pattern) pairs of ``capec_split``.

The CWE / CVSS inputs are the model's own predictions.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import ModelError
from vulntax.models import attack_learnt, capec_rank

#: chosen by the inner-fold selection of bench/attack/cv.py (docs/attack.md)
DEFAULT_ATTACK = attack_learnt.AttackSettings(C=4.0, cvss_weight=1.0, cwe_weight=1.0)
CAPEC_SPLIT = "validation"
CAPEC_MAX_ROWS = 20_000


def fit_extras(
    model_dir: str | Path,
    dataset: str | Path,
    data_dir: str | Path,
    out_dir: str | Path | None = None,
    attack_settings: attack_learnt.AttackSettings = DEFAULT_ATTACK,
    capec_split: str = CAPEC_SPLIT,
    log: Any = print,
) -> dict[str, Any]:
    """Fit both heads on the model at ``model_dir``; write them to ``out_dir`` (default: there)."""
    from vulntax import datadir
    from vulntax.dataset.store import load_dataset
    from vulntax.models.analyst_rows import analyst_rows, model_inputs
    from vulntax.models.linear import LinearModel
    from vulntax.taxonomy import load_catalog

    started = time.perf_counter()
    model_path = Path(model_dir)
    out = Path(out_dir) if out_dir else model_path
    model = LinearModel.load(model_path, extras=False)  # any older extra files are replaced
    if model.config.get("kind") != "linear":
        raise ModelError(f"{model_path}: the extra heads fit linear models only")
    catalog = load_catalog(data_dir)
    ds = load_dataset(dataset)
    rows = analyst_rows(ds, catalog, Path(data_dir) / datadir.ATTACK_GOLD_DIR)
    if not len(rows):
        raise ModelError(f"{dataset}: no CVE with analysts' ATT&CK mappings to learn from")
    x, cvss, cwe = model_inputs(model, rows.texts)
    attack = attack_learnt.fit(x, cvss, cwe, rows.gold, attack_settings)
    about = {
        "fitted_on": {
            "dataset": str(dataset),
            "rows": len(rows),
            "ctid_rows": sum(1 for c in rows.ctid if c),
            "kev_rows": sum(1 for k in rows.kev if k),
        },
        "catalog": catalog.versions,
        "model": {"name": model.config.get("name"), "version": model.config.get("version")},
    }
    out.mkdir(parents=True, exist_ok=True)
    attack_learnt.save(attack, out, about)
    log(
        f"ATT&CK: {len(attack.techniques)} techniques from {len(rows)} analyst rows "
        f"({time.perf_counter() - started:.0f} s)"
    )

    cols = ds.columns(capec_split, ["description", "capec_derived"])
    keep = [i for i, g in enumerate(cols["capec_derived"]) if g][-CAPEC_MAX_ROWS:]
    texts = [cols["description"][i] for i in keep]
    gold = [list(cols["capec_derived"][i]) for i in keep]
    cx, _, ccwe = model_inputs(model, texts)
    base = base_ranker(model, catalog, data_dir)
    ranker = capec_rank.fit(base, cx, ccwe, model.capec_links, gold, model.labels.capec)
    capec_rank.save(
        ranker,
        out,
        {
            "fitted_on": {"dataset": str(dataset), "split": capec_split, "records": len(keep)},
            "coef": dict(zip(capec_rank.FEATURES, ranker.coef.tolist(), strict=True)),
            "bias": ranker.bias,
            "catalog": catalog.versions,
        },
    )
    log(
        f"CAPEC ranker: {len(model.labels.capec)} patterns, fitted on {len(keep)} {capec_split} "
        f"records ({time.perf_counter() - started:.0f} s)"
    )
    return {"attack": asdict(attack_settings), "techniques": len(attack.techniques)}


def base_ranker(model: Any, catalog: Any, data_dir: str | Path) -> capec_rank.CapecRanker:
    """An unfitted ranker: the pattern texts and CWE-line links of ``model``'s labels."""
    from vulntax import datadir

    bundle = datadir.newest(datadir.resolve(data_dir), "catalogs/stix-capec-*.json*")
    texts = capec_rank.pattern_texts(bundle, model.labels.capec)
    rows = {t: capec_rank.text_rows(model.features, texts[t]) for t in capec_rank.TEXTS}
    line = capec_rank.line_links(model.labels.cwe, model.labels.capec, catalog)
    return capec_rank.CapecRanker(rows, line, np.zeros(len(capec_rank.FEATURES), np.float32), 0.0)
