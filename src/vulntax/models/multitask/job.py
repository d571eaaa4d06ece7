"""The one-shot GPU job: train a fine-tuned multitask model from a pack, on a machine that
has torch, safetensors, tokenizers and numpy but no dataset, no catalogs, no network.

    PYTHONPATH=src python -m vulntax.models.multitask.job --pack PACK --out OUT

:mod:`.pack` writes the pack (``vulntax finetune pack``); this module reads it, runs the
phases of :func:`.fit.train_prepared` (pre-training if configured, fine-tuning under the
budget with early stopping, calibration), scores validation and test, and writes at most
8 files, none over 15 MiB, into OUT: ``model.json`` (the model's JSON files in one),
``weights.safetensors.partN`` (the fp16 weights, cut in pieces), ``result.json`` (figures,
timings, the pieces' sha256) and ``job.log``. ``vulntax finetune unpack`` puts the model
back together. Nothing here imports scikit-learn, pyarrow, pydantic, typer or the ``cvss``
package: a test runs this entry point with them blocked.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

PACK_FORMAT = "vulntax-finetune-pack"
PACK_VERSION = 1
JOB = "job.json"
ENCODER = "encoder.safetensors"
TOKENIZER = "tokenizer.json"
DATA = "data.safetensors.gz"
PIECE = 15 * 1024 * 1024  # bytes per weights piece (the limit is 16 MiB per file)
BUNDLE, RESULT, LOG = "model.json", "result.json", "job.log"
BUNDLED = ("config.json", "labels.json", "hierarchy.json", "tokenizer.json")


class PackedExamples:
    """A split as the training code reads it (``texts``, ``cwe_gold``, ``cvss``), its texts
    being token-id arrays and its CWE gold already the model's classes."""

    def __init__(self, ids: list[np.ndarray], cwe: np.ndarray, cvss: np.ndarray, labels: Any):
        self.texts = ids
        self.cwe_index = cwe
        self.cvss_index = cvss
        self.cwe_gold = [[labels.cwe[c]] if c >= 0 else [] for c in cwe]
        self.cvss = {
            m: [values[v] if v >= 0 else None for v in cvss[:, j]]
            for j, (m, values) in enumerate(labels.cvss.items())
        }

    def __len__(self) -> int:
        return len(self.texts)


def ragged(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [flat[offsets[i] : offsets[i + 1]].astype(np.int64) for i in range(len(offsets) - 1)]


def read_pack(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(job.json, the data tensors as numpy); a clear error for a missing or foreign pack."""
    from safetensors.numpy import load

    from vulntax.errors import ModelError

    for name in (JOB, ENCODER, TOKENIZER, DATA):
        if not (folder / name).is_file():
            raise ModelError(f"{folder}: not a fine-tuning pack ({name} is missing)")
    job = json.loads((folder / JOB).read_text(encoding="utf-8"))
    if job.get("format") != PACK_FORMAT or job.get("version") != PACK_VERSION:
        raise ModelError(f"{folder / JOB}: not a {PACK_FORMAT} version {PACK_VERSION}")
    with gzip.open(folder / DATA, "rb") as handle:
        data = load(handle.read())
    return job, data


def run(
    pack: Path, out: Path, max_minutes: float | None, log: Any, ablate: bool = True
) -> dict[str, Any]:
    import dataclasses

    import torch
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    from vulntax.config import from_dict
    from vulntax.models.base import Labels
    from vulntax.models.multitask import encoders as enc
    from vulntax.models.multitask.config import MultitaskConfig
    from vulntax.models.multitask.fit import Prepared, train_prepared
    from vulntax.models.multitask.hierarchy import Hierarchy
    from vulntax.models.multitask.model import MultitaskModel
    from vulntax.models.multitask.targets import Targets

    started = time.perf_counter()
    job, data = read_pack(pack)
    params = dict(job["params"])
    if max_minutes is not None:
        params["max_minutes"] = max_minutes
    cfg = from_dict(MultitaskConfig, params, "multitask")
    labels = Labels.from_dict(job["labels"])
    hierarchy = Hierarchy.from_dict(job["hierarchy"])
    capec_links = data["capec_links"].astype(np.float32)
    attack_links = data["attack_links"].astype(np.float32)
    cwe = data["train.cwe"].astype(np.int64)
    has = cwe >= 0
    capec = np.zeros((len(cwe), capec_links.shape[1]), dtype=np.float32)
    capec[has] = capec_links[cwe[has]]
    attack = np.zeros((len(cwe), attack_links.shape[1]), dtype=np.float32)
    attack[has] = attack_links[cwe[has]]
    kev_rows = np.zeros(len(cwe), dtype=bool)
    for row, col in data["train.kev"].astype(np.int64):
        attack[row, col] = 1.0
        kev_rows[row] = True
    hard = Targets(
        cwe, data["train.levels"].astype(np.int64), data["train.cvss"].astype(np.int64),
        capec, has.copy(), attack, has | kev_rows, kev_rows,
    )  # fmt: skip
    texts = ragged(data["train.ids"], data["train.offsets"])
    prep = Prepared(labels, hierarchy, capec_links, attack_links, hard, texts)
    splits = {
        name: PackedExamples(
            ragged(data[f"{name}.ids"], data[f"{name}.offsets"]),
            data[f"{name}.cwe"].astype(np.int64),
            data[f"{name}.cvss"].astype(np.int64),
            labels,
        )
        for name in ("validation", "test")
    }
    tokenizer_json = (pack / TOKENIZER).read_text(encoding="utf-8")
    state = {k: v.float() for k, v in load_file(str(pack / ENCODER)).items()}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    log(
        f"job: {len(texts):,} training rows, {len(splits['validation']):,} validation, "
        f"{len(splits['test']):,} test; device {device}"
        + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else "")
    )
    classes: dict[str, str | None] = {c: c for c in labels.cwe}
    # with pre-training configured, both variants train (each with the budget) and the
    # one with the better validation score is written back: pre-training is measured
    if cfg.pretrain_steps and ablate:
        variants = {"no pre-training": 0, "pre-trained": cfg.pretrain_steps}
    else:
        variants = {"as configured": cfg.pretrain_steps}
    runs: dict[str, Any] = {}
    best: tuple[float, str, Any] | None = None
    for name, steps in variants.items():
        encoder = enc.bert_encoder(
            "minilm", Tokenizer.from_str(tokenizer_json), job["spec"],
            {k: v.clone() for k, v in state.items()}, cfg.max_length, "pack",
        )  # fmt: skip
        encoder.fingerprint = job["fingerprint"]
        encoder.train(True)
        log(f"variant {name!r}: {steps} pre-training steps")
        began = time.perf_counter()
        model = train_prepared(
            MultitaskModel, job["meta"], dataclasses.replace(cfg, pretrain_steps=steps), prep,
            splits["validation"], classes, log, None, encoder=encoder,
        )  # fmt: skip
        trained = time.perf_counter() - began
        model.pipeline.to(device)
        figures = {split: quick_figures(model, data) for split, data in splits.items()}
        model.pipeline.cpu()
        log(f"variant {name!r} figures: " + json.dumps(figures))
        v = figures["validation"]
        score = (v["cwe_top1_over_model_classes"] or 0.0) + (v["cvss_mean"] or 0.0)
        runs[name] = {
            "pretrain_steps": steps, "seconds": round(trained, 1), "history": model.history,
            "temperatures": model.temperatures(), "quick_figures": figures,
            "validation_score": round(score, 4),
        }  # fmt: skip
        if best is None or score > best[0]:
            best = (score, name, model)
    assert best is not None
    pieces = write_model(best[2], out)
    result = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - started, 1),
        "variants": runs,
        "chosen": best[1],
        "note": "quick figures: CWE top-1 over rows whose gold is one of the model's classes, "
        "CVSS accuracy per metric; the variant is chosen on validation (CWE + CVSS); the "
        "full evaluation runs after `vulntax finetune unpack`",
        "pieces": pieces,
    }
    (out / RESULT).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


def quick_figures(model: Any, split: PackedExamples) -> dict[str, Any]:
    out = model.predict_batch(split.texts)
    has = split.cwe_index >= 0
    figures: dict[str, Any] = {
        "rows": len(split),
        "cwe_top1_over_model_classes": round(
            float((out.cwe.argmax(1)[has] == split.cwe_index[has]).mean()), 4
        )
        if has.any()
        else None,
    }
    per_metric = {}
    for j, metric in enumerate(model.labels.cvss):
        ok = split.cvss_index[:, j] >= 0
        if ok.any():
            hit = out.cvss[metric].argmax(1)[ok] == split.cvss_index[ok, j]
            per_metric[metric] = round(float(hit.mean()), 4)
    figures["cvss_per_metric"] = per_metric
    figures["cvss_mean"] = (
        round(float(np.mean(list(per_metric.values()))), 4) if per_metric else None
    )
    return figures


def write_model(model: Any, out: Path) -> list[dict[str, Any]]:
    """The model's JSON files bundled in one, its weights as fp16 in ≤ 15 MiB pieces."""
    import tempfile

    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model.save(folder)
        bundle = {
            name: (folder / name).read_text(encoding="utf-8")
            for name in BUNDLED
            if (folder / name).is_file()
        }
        from safetensors.torch import load_file

        tensors = {k: v.half() for k, v in load_file(str(folder / "weights.safetensors")).items()}
        save_file(tensors, str(folder / "half.safetensors"))
        blob = (folder / "half.safetensors").read_bytes()
    (out / BUNDLE).write_text(json.dumps(bundle), encoding="utf-8")
    pieces = []
    for n, start in enumerate(range(0, len(blob), PIECE)):
        chunk = blob[start : start + PIECE]
        name = f"weights.safetensors.part{n}"
        (out / name).write_bytes(chunk)
        pieces.append({"file": name, "bytes": len(chunk), "sha256": _sha(chunk)})
    return pieces


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vulntax.models.multitask.job",
        description="Fine-tune the multitask model from a pack (vulntax finetune pack).",
    )
    parser.add_argument("--pack", type=Path, required=True, help="the pack folder")
    parser.add_argument("--out", type=Path, required=True, help="where the results go")
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="override the config's training budget"
    )
    parser.add_argument(
        "--no-ablation",
        action="store_true",
        help="train only as configured (default: with pre-training configured, train "
        "without it too and keep the better on validation)",
    )
    args = parser.parse_args(argv)
    from vulntax.errors import VulntaxError

    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / LOG).open("w", encoding="utf-8") as handle:

        def log(message: str) -> None:
            line = f"[{time.strftime('%H:%M:%S')}] {message}"
            print(line, flush=True)
            handle.write(line + "\n")
            handle.flush()

        try:
            run(args.pack, args.out, args.max_minutes, log, ablate=not args.no_ablation)
        except VulntaxError as exc:
            log(f"error: {exc}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
