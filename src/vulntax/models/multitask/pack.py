"""Packing a fine-tuning run for a GPU machine, and unpacking what it sends back.

``vulntax finetune pack`` does everything that needs the dataset and the catalogs
(label spaces, the CWE hierarchy, catalog links, hard targets: :func:`.fit.prepare`)
and writes a folder that the job (:mod:`.job`) trains from:

* ``job.json`` — the config, the labels, the hierarchy, the model's metadata;
* ``encoder.safetensors`` — MiniLM in fp16 with its vocabulary trimmed to the pieces the
  packed texts use (:mod:`.vocab`), and its ``tokenizer.json``;
* ``data.safetensors.gz`` — the train / validation / test splits as token ids with their
  targets (gzip: a pack must travel in ≤ 64 MiB with the repository).

``vulntax finetune unpack`` checks the pieces' sha256, joins them into a normal
``multitask`` model directory and, given the dataset, evaluates it on validation and
writes ``metrics.json`` and the model card, as ``vulntax train`` does.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import ConfigError, DatasetError, ModelError
from vulntax.models.multitask import job as J


def pack(
    config_path: Path | None,
    dataset_dir: Path,
    out: Path,
    data_dir: Path | None = None,
    max_rows: int | None = None,
    log: Any = print,
    max_eval_rows: int | None = None,
) -> dict[str, Any]:
    """Write a pack; returns its sizes. ``max_rows`` keeps the newest N training rows and
    the first N of validation and test (``max_eval_rows`` if given): a small pack."""
    from safetensors.numpy import save
    from safetensors.torch import save_file

    from vulntax.dataset.store import load_dataset
    from vulntax.models.data import cwe_roll_up, load_examples
    from vulntax.models.multitask import encoders as enc
    from vulntax.models.multitask import vocab
    from vulntax.models.multitask.fit import prepare
    from vulntax.models.multitask.targets import first_class
    from vulntax.taxonomy import load_catalog
    from vulntax.train import load_config, model_meta

    config = load_config(config_path)
    params = config.params
    if config.kind != "multitask" or params.encoder != "minilm" or not params.fine_tune:
        raise ConfigError(
            "a fine-tuning pack needs a multitask config with encoder = 'minilm' and "
            "fine_tune = true (e.g. configs/finetune-gpu.toml)"
        )
    dataset = load_dataset(dataset_dir)
    catalog = load_catalog(data_dir)
    if dataset.manifest.get("catalog") != dict(catalog.versions):
        raise DatasetError("the dataset was built with other catalogs; pass the same --data-dir")
    data_cfg = config.data
    if max_rows is not None:
        import dataclasses

        data_cfg = dataclasses.replace(data_cfg, max_examples=max_rows)
    train = load_examples(dataset, data_cfg.train_splits, data_cfg, training=True)
    splits = {
        "validation": load_examples(
            dataset, [data_cfg.calibration_split], data_cfg, training=False, sources=True
        ),
        "test": load_examples(dataset, ["test"], data_cfg, training=False, sources=True),
    }
    first = max_eval_rows if max_eval_rows is not None else max_rows
    if first is not None:
        splits = {k: _head(v, first) for k, v in splits.items()}
    classes = cwe_roll_up([g[0] for g in train.cwe_gold if g], catalog.cwe, data_cfg.cwe_min_count)
    meta = model_meta(config, dataset_dir, dataset, catalog)
    meta["dataset"]["packed_rows"] = max_rows
    prep = prepare(meta, params, train, classes, catalog, log)

    encoder = enc.minilm(params.max_length)
    every_text = [*prep.texts, *splits["validation"].texts, *splits["test"].texts]
    keep = vocab.used_pieces(encoder, every_text)
    trimmed = vocab.trim(encoder, keep)
    log(f"vocabulary trimmed to {len(keep):,} of {encoder.tokenizer.get_vocab_size():,} pieces")

    tensors: dict[str, np.ndarray] = {
        "capec_links": prep.capec_links.astype(np.uint8),
        "attack_links": prep.attack_links.astype(np.uint8),
        "train.cwe": prep.hard.cwe.astype(np.int16),
        "train.levels": prep.hard.levels.astype(np.int16),
        "train.cvss": prep.hard.cvss.astype(np.int8),
        "train.kev": _kev_pairs(prep.hard, prep.labels),
    }
    tensors.update(_ids("train", trimmed, prep.texts))
    index = {c: i for i, c in enumerate(prep.labels.cwe)}
    for name, split in splits.items():
        tensors.update(_ids(name, trimmed, split.texts))
        gold = [first_class(g, classes) for g in split.cwe_gold]
        tensors[f"{name}.cwe"] = np.asarray(
            [index.get(c, -1) if c else -1 for c in gold], dtype=np.int16
        )
        tensors[f"{name}.cvss"] = _cvss_index(split, prep.labels.cvss)

    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.half().contiguous() for k, v in trimmed.stack.state_dict().items()}
    save_file(state, str(out / J.ENCODER))
    (out / J.TOKENIZER).write_text(trimmed.tokenizer.to_str(), encoding="utf-8")
    with gzip.open(out / J.DATA, "wb", compresslevel=6) as handle:
        handle.write(save(tensors))
    job = {
        "format": J.PACK_FORMAT,
        "version": J.PACK_VERSION,
        "meta": meta,
        "params": {k: getattr(params, k) for k in params.__dataclass_fields__},
        "labels": prep.labels.to_dict(),
        "hierarchy": prep.hierarchy.to_dict(),
        "spec": enc.minilm_spec(),
        "fingerprint": trimmed.fingerprint,
        "rows": {"train": len(prep.texts), **{k: len(v) for k, v in splits.items()}},
    }
    (out / J.JOB).write_text(json.dumps(job), encoding="utf-8")
    sizes = {f.name: f.stat().st_size for f in sorted(out.iterdir())}
    log(
        f"pack written to {out}: {sum(sizes.values()) / 2**20:.1f} MiB ("
        + ", ".join(f"{k} {v / 2**20:.1f}" for k, v in sizes.items())
        + ")"
    )
    return {"bytes": sizes, "rows": job["rows"], "vocabulary": len(keep)}


def repository_bytes(folder: Path) -> tuple[Path, int, dict[str, int]] | None:
    """The git checkout holding ``folder``, the bytes of its files that travel to a device
    machine (tracked and untracked-not-ignored: ``git ls-files -co --exclude-standard``),
    and the largest of them by top-level-of-``src/vulntax`` folder; None outside a checkout."""
    import subprocess

    def git(where: Path, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=where, capture_output=True, text=True, check=True
        ).stdout

    try:
        root = Path(git(folder, "rev-parse", "--show-toplevel").strip())
        names = git(root, "ls-files", "-co", "--exclude-standard", "-z").split("\0")
    except (OSError, subprocess.CalledProcessError):
        return None
    total, folders = 0, dict[str, int]()
    for name in filter(None, names):
        path = root / name
        if path.is_file():
            size = path.stat().st_size
            total += size
            parts = Path(name).parts
            if len(parts) > 3 and parts[:2] == ("src", "vulntax"):
                key = "/".join(parts[:3])
                folders[key] = folders.get(key, 0) + size
    return root, total, folders


def _head(examples: Any, n: int) -> Any:
    """The first ``n`` rows of an :class:`~vulntax.models.data.Examples`."""
    import dataclasses

    values = {}
    for f in dataclasses.fields(examples):
        v = getattr(examples, f.name)
        values[f.name] = {k: x[:n] for k, x in v.items()} if isinstance(v, dict) else v[:n]
    return type(examples)(**values)


def _ids(name: str, encoder: Any, texts: list[str]) -> dict[str, np.ndarray]:
    rows = [e.ids for e in encoder.tokenizer.encode_batch(list(texts))]
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(r) for r in rows])
    flat = np.fromiter((i for r in rows for i in r), dtype=np.uint16, count=int(offsets[-1]))
    return {f"{name}.ids": flat, f"{name}.offsets": offsets}


def _kev_pairs(hard: Any, labels: Any) -> np.ndarray:
    rows = np.flatnonzero(hard.kev_rows)
    pairs = [(r, c) for r in rows for c in np.flatnonzero(hard.attack[r] > 0.5)]
    return np.asarray(pairs, dtype=np.int32).reshape(-1, 2)


def _cvss_index(split: Any, cvss_labels: dict[str, list[str]]) -> np.ndarray:
    out = np.full((len(split), len(cvss_labels)), -1, dtype=np.int8)
    for j, (metric, values) in enumerate(cvss_labels.items()):
        where = {v: k for k, v in enumerate(values)}
        for row, v in enumerate(split.cvss[metric]):
            if v is not None and v in where:
                out[row, j] = where[v]
    return out


def unpack(results: Path, out: Path) -> dict[str, Any]:
    """Join a job's results into a model directory; returns the job's result.json."""
    for name in (J.BUNDLE, J.RESULT):
        if not (results / name).is_file():
            raise ModelError(f"{results}: not a fine-tuning job's results ({name} is missing)")
    try:
        result = json.loads((results / J.RESULT).read_text(encoding="utf-8"))
        bundle = json.loads((results / J.BUNDLE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{results}: unreadable job results ({exc})") from exc
    blob = bytearray()
    for piece in result.get("pieces", []):
        file = results / str(piece["file"])
        if not file.is_file():
            raise ModelError(f"{results}: the weights piece {piece['file']} is missing")
        data = file.read_bytes()
        if hashlib.sha256(data).hexdigest() != piece["sha256"]:
            raise ModelError(f"{file}: damaged in transfer (its sha256 does not match)")
        blob += data
    if not blob:
        raise ModelError(f"{results}: the job wrote no weights")
    out.mkdir(parents=True, exist_ok=True)
    for name in J.BUNDLED:
        if name in bundle:
            (out / name).write_text(bundle[name], encoding="utf-8")
    (out / "weights.safetensors").write_bytes(bytes(blob))
    (out / "job-result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return dict(result)
