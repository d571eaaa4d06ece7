"""``MultitaskModel.fit``: the training phases in order (see :mod:`.training`)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vulntax.errors import DatasetError
from vulntax.models.base import FORMAT_VERSION, Labels
from vulntax.models.multitask import encoders as enc
from vulntax.models.multitask.cache import cache_root, cached_embeddings
from vulntax.models.multitask.config import MultitaskConfig
from vulntax.models.multitask.hierarchy import Hierarchy
from vulntax.models.multitask.targets import (
    Targets,
    cwe_number,
    distilled,
    first_class,
    hard_targets,
    kev_labels,
    link_matrix,
    technique_key,
)
from vulntax.models.multitask.training import (
    Dist,
    Extras,
    LossSetup,
    class_scores,
    ddp_wrap,
    distributed,
    forward_all,
    new_pipeline,
    run_epochs,
)


@dataclass
class Prepared:
    """Step 1's output: label spaces, the hierarchy, catalog links and the hard targets of
    the labelled rows. Everything after it needs no catalog (a GPU job packs this)."""

    labels: Labels
    hierarchy: Hierarchy
    capec_links: np.ndarray  # (n_classes, n_capec) 0/1
    attack_links: np.ndarray  # (n_classes, n_attack) 0/1
    hard: Targets
    texts: list[Any]  # the labelled rows' texts (or token-id arrays in a packed job)

    @property
    def cvss_labels(self) -> dict[str, list[str]]:
        return self.labels.cvss


def fit(
    cls: Any,
    meta: dict[str, Any],
    cfg: MultitaskConfig,
    train: Any,
    calibration: Any,
    cwe_classes: dict[str, str | None],
    catalog: Any,
    log: Any,
    temperatures: dict[str, float] | None,
) -> Any:
    dist = distributed()
    say = log if dist.main else (lambda message: None)
    prep = prepare(meta, cfg, train, cwe_classes, catalog, say)
    return train_prepared(cls, meta, cfg, prep, calibration, cwe_classes, say, temperatures)


def prepare(
    meta: dict[str, Any],
    cfg: MultitaskConfig,
    train: Any,
    cwe_classes: dict[str, str | None],
    catalog: Any,
    say: Any,
) -> Prepared:
    """1. labels and targets."""
    from vulntax.taxonomy.cvss import BASE_METRICS, metric_values

    classes = sorted(
        {c for g in train.cwe_gold if (c := first_class(g, cwe_classes)) is not None},
        key=cwe_number,
    )
    if not classes:
        raise DatasetError("no training example has a CWE class")
    hierarchy = Hierarchy.build(classes, catalog.cwe.path)
    cvss_labels = {m: list(metric_values(m)) for m in BASE_METRICS}
    capec_labels = sorted(
        {p for c in classes for p in catalog.graph.cwe_to_capec(c)}, key=lambda s: (len(s), s)
    )
    dataset_path = meta.get("dataset", {}).get("path")
    kev = (
        kev_labels(dataset_path, train.ids, catalog) if cfg.attack_kev else [[] for _ in train.ids]
    )
    attack_labels = sorted(
        {t for c in classes for t in catalog.graph.cwe_to_attack(c)}
        | {t for ts in kev for t in ts},
        key=technique_key,
    )
    labels = Labels(cwe=classes, cvss=cvss_labels, capec=capec_labels, attack=attack_labels)
    capec_links = link_matrix(classes, catalog.graph.cwe_to_capec, capec_labels)
    attack_links = link_matrix(classes, catalog.graph.cwe_to_attack, attack_labels)
    hard = hard_targets(
        train, cwe_classes, hierarchy, cvss_labels, capec_links, attack_links, attack_labels, kev
    )
    keep = np.flatnonzero((hard.cwe >= 0) | (hard.cvss >= 0).any(1) | hard.kev_rows)
    texts = [train.texts[i] for i in keep]
    hard = hard.subset(keep)
    say(
        f"multitask: {len(texts):,} labelled rows; {len(classes)} CWE classes in "
        f"{hierarchy.depth} levels, {len(capec_labels)} CAPEC, {len(attack_labels)} ATT&CK "
        f"({int(hard.kev_rows.sum())} KEV rows)"
    )
    return Prepared(labels, hierarchy, capec_links, attack_links, hard, texts)


def train_prepared(
    cls: Any,
    meta: dict[str, Any],
    cfg: MultitaskConfig,
    prep: Prepared,
    calibration: Any,
    cwe_classes: dict[str, str | None],
    say: Any,
    temperatures: dict[str, float] | None,
    encoder: enc.TextEncoder | None = None,
) -> Any:
    """2.–5.: encoder (and pre-training), teacher, student, calibration. ``encoder``: a
    ready encoder (a GPU job's, from its pack) instead of the configured one."""
    started = time.perf_counter()
    dist = distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed = int(meta.get("training", {}).get("seed", 0))
    torch.manual_seed(seed)
    labels, hierarchy, hard, texts = prep.labels, prep.hierarchy, prep.hard, prep.texts
    classes, cvss_labels = labels.cwe, labels.cvss
    capec_labels, attack_labels = labels.capec, labels.attack
    capec_links, attack_links = prep.capec_links, prep.attack_links

    # 2. encoder (and its pre-training)
    encoder = encoder if encoder is not None else _encoder(cfg, texts, seed, say)
    trainable = cfg.trainable_encoder
    if trainable and cfg.checkpoint_dir is None and os.environ.get("VULNTAX_CHECKPOINT_DIR"):
        cfg = _replace(cfg, checkpoint_dir=os.environ["VULNTAX_CHECKPOINT_DIR"])
    if cfg.pretrain_steps:
        _pretrain(encoder, texts, hard, hierarchy, cfg, meta, seed, say, dist)
    inputs: Any = (
        texts
        if trainable
        else cached_embeddings(encoder, texts, cache_root(cfg.embedding_cache), say)
    )
    say(f"inputs ready ({time.perf_counter() - started:.0f} s)")
    sizes = {
        "classes": len(classes),
        "levels": hierarchy.sizes(),
        "cvss": {m: len(v) for m, v in cvss_labels.items()},
        "capec": len(capec_labels),
        "attack": len(attack_labels),
    }
    parents = [torch.as_tensor(p, dtype=torch.long, device=dist.device) for p in hierarchy.parents]
    setup = LossSetup(
        hierarchy, cfg, parents, _pairs(capec_links, dist), _pairs(attack_links, dist)
    )
    history: dict[str, list[float]] = {}

    extras = Extras()
    if trainable:
        extras = _fine_tune_extras(
            cfg, encoder, texts, calibration, cwe_classes, hierarchy, cvss_labels, meta, seed,
            dist, (capec_links, attack_links, attack_labels),
        )  # fmt: skip

    # 3. teacher → distilled targets
    targets: Targets = hard
    if cfg.distillation and extras.online_links is None:
        teacher = new_pipeline(
            encoder.dim, sizes, cfg, encoder if trainable else None, seed + 1, dist.device
        )
        cfg_teacher = _replace(cfg, progressive=False)
        teacher_setup = LossSetup(
            hierarchy,
            cfg_teacher,
            parents,
            setup.capec_pairs,
            setup.attack_pairs,
            heads=("cwe", "cvss"),
        )
        history["teacher"] = run_epochs(
            teacher,
            inputs,
            hard,
            teacher_setup,
            cfg.teacher_epochs or 1,
            cfg_teacher,
            seed + 1,
            dist,
            say,
            "teacher",
        )
        out = forward_all(teacher, inputs, dist.device)
        scores = class_scores(_torch_out(out), hierarchy, cfg.cwe_output).numpy()
        soft = _softmax(scores / cfg.distill_temperature)
        cvss_soft = [_softmax(out["cvss"][m] / cfg.distill_temperature) for m in cvss_labels]
        level_soft = [_softmax(z / cfg.distill_temperature) for z in out["levels"]]
        targets = distilled(
            hard, soft, cvss_soft, level_soft, capec_links, attack_links, cfg.attack_kev, seed
        )
        del teacher

    # 4. the student: every head
    pipeline = new_pipeline(
        encoder.dim, sizes, cfg, encoder if trainable else None, seed, dist.device
    )
    history["student"] = run_epochs(
        pipeline, inputs, targets, setup, cfg.epochs, cfg, seed, dist, say, "multitask", extras
    )
    if trainable and pipeline.encoder is not None:
        encoder = pipeline.encoder
    encoder.eval()

    config = {"kind": cls.kind, "format_version": FORMAT_VERSION, **meta}
    model = cls(config, labels, cfg, hierarchy, encoder, pipeline, dict(temperatures or {}))
    model.history = history
    # 5. calibration (on the training device), then the model moves to the CPU
    if not temperatures:
        model.calibrate(calibration, cwe_classes)
    model.pipeline = pipeline.cpu()
    if trainable and pipeline.encoder is not None:
        model.encoder = pipeline.encoder
    say(
        f"multitask trained in {time.perf_counter() - started:.0f} s; temperatures "
        + ", ".join(f"{k} {v:.2f}" for k, v in model.temperatures().items())
    )
    return model


# settings that do not change what was trained so far: a run resumes across them (a longer
# max_minutes stretches the schedule from where it stopped)
NOT_KEY = frozenset(
    {"threads", "max_minutes", "checkpoint_dir", "checkpoint_minutes", "eval_minutes",
     "patience", "log_every"}
)  # fmt: skip


def _fine_tune_extras(
    cfg: MultitaskConfig,
    encoder: enc.TextEncoder,
    texts: list[str],
    calibration: Any,
    cwe_classes: dict[str, str | None],
    hierarchy: Hierarchy,
    cvss_labels: dict[str, list[str]],
    meta: dict[str, Any],
    seed: int,
    dist: Dist,
    links: tuple[np.ndarray, np.ndarray, list[str]],
) -> Extras:
    """Token lengths (bucketed batches), the validation score (early stopping), the run's
    identity (checkpoints) and, for online distillation, the catalog links on the device."""
    capec_links, attack_links, attack_labels = links
    lengths = enc.token_counts(encoder, texts)  # texts or a packed job's token ids
    score = None
    if cfg.eval_rows and calibration is not None and len(calibration):
        score = validation_score(
            calibration, cwe_classes, hierarchy, cvss_labels,
            (capec_links, attack_links, attack_labels), cfg, seed, dist.device,
        )  # fmt: skip
    online = None
    if cfg.distillation and cfg.distillation_mode == "online":
        online = (
            torch.as_tensor(capec_links, device=dist.device),
            torch.as_tensor(attack_links, device=dist.device),
        )
    key = run_key(cfg, meta, texts)
    return Extras(lengths=lengths, score=score, checkpoint_key=key, online_links=online)


def run_key(cfg: MultitaskConfig, meta: dict[str, Any], texts: Any) -> dict[str, Any]:
    """What identifies a training run for its checkpoints: the settings that change what is
    trained, the dataset's examples and split, the number of texts."""
    return {
        "params": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__ if k not in NOT_KEY},
        "examples": meta.get("dataset", {}).get("examples_sha256"),
        "split": meta.get("dataset", {}).get("split"),
        "texts": len(texts),
    }


def _pretrain(
    encoder: enc.TextEncoder,
    texts: Any,
    hard: Targets,
    hierarchy: Hierarchy,
    cfg: MultitaskConfig,
    meta: dict[str, Any],
    seed: int,
    say: Any,
    dist: Dist,
) -> None:
    """Pre-train ``encoder`` in place (MLM + CWE pillar), or read this run's pre-trained
    weights from its checkpoint folder; a fresh result is kept there."""
    from vulntax.models.multitask import pretraining as pt

    key = {**run_key(cfg, meta, texts), "world": dist.world}
    if pt.load_checkpoint(encoder, cfg.checkpoint_dir, key):
        say(f"pre-training: the encoder's pre-trained weights read from {cfg.checkpoint_dir}")
        return
    say(f"pre-training the encoder: {cfg.pretrain_steps} steps (MLM + CWE pillar)")
    pillars = np.where(hard.cwe >= 0, hard.levels[:, 0] - 1, -1)
    pt.pretrain(
        encoder, texts, pillars, len(hierarchy.levels[0]), cfg.pretrain_steps,
        cfg.pretrain_batch_size, cfg.pretrain_lr, cfg.pretrain_mask_rate,
        cfg.pretrain_aux_weight, seed, say, ddp_wrap(dist), dist.rank, dist.world,
    )  # fmt: skip
    if dist.main:
        pt.save_checkpoint(encoder, cfg.checkpoint_dir, key)


def validation_score(
    calibration: Any,
    cwe_classes: dict[str, str | None],
    hierarchy: Hierarchy,
    cvss_labels: dict[str, list[str]],
    links: tuple[np.ndarray, np.ndarray, list[str]],
    cfg: MultitaskConfig,
    seed: int,
    device: str,
) -> Any:
    """A function of the pipeline: (CWE top-1 + CVSS mean per-metric accuracy) / 2 on up to
    ``eval_rows`` labelled validation rows (a fixed sample)."""
    capec_links, attack_links, attack_labels = links
    gold = hard_targets(
        calibration, cwe_classes, hierarchy, cvss_labels, capec_links, attack_links,
        attack_labels, [[] for _ in range(len(calibration))],
    )  # fmt: skip
    labelled = np.flatnonzero((gold.cwe >= 0) | (gold.cvss >= 0).any(1))
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.permutation(labelled)[: cfg.eval_rows])
    texts = [calibration.texts[i] for i in rows]
    cwe, cvss = gold.cwe[rows], gold.cvss[rows]

    def score(pipeline: Any) -> float:
        out = forward_all(pipeline, texts, device)
        classes = class_scores(_torch_out(out), hierarchy, cfg.cwe_output).numpy()
        has = cwe >= 0
        cwe_acc = float((classes.argmax(1)[has] == cwe[has]).mean()) if has.any() else 0.0
        accs = []
        for j, metric in enumerate(cvss_labels):
            ok = cvss[:, j] >= 0
            if ok.any():
                accs.append(float((out["cvss"][metric].argmax(1)[ok] == cvss[ok, j]).mean()))
        return (cwe_acc + (float(np.mean(accs)) if accs else 0.0)) / 2

    return score


def _encoder(cfg: MultitaskConfig, texts: list[str], seed: int, log: Any) -> enc.TextEncoder:
    if cfg.encoder == "minilm":
        encoder = enc.minilm(cfg.max_length)
        encoder.train(cfg.fine_tune)
        for p in encoder.parameters():
            p.requires_grad_(cfg.fine_tune)
        return encoder
    tokenizer = enc.train_tokenizer(texts, cfg.scratch_vocab)
    log(f"scratch tokenizer: {tokenizer.get_vocab_size():,} word pieces")
    return enc.scratch(
        tokenizer, cfg.scratch_dim, cfg.scratch_layers, cfg.scratch_heads, cfg.max_length, seed
    )


def _pairs(links: np.ndarray, dist: Dist) -> torch.Tensor:
    rows, cols = np.nonzero(links)
    return torch.as_tensor(np.stack([rows, cols], axis=1), dtype=torch.long, device=dist.device)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _torch_out(out: dict[str, Any]) -> dict[str, Any]:
    return {
        "cwe": torch.as_tensor(out["cwe"]),
        "levels": [torch.as_tensor(z) for z in out["levels"]],
    }


def _replace(cfg: MultitaskConfig, **changes: Any) -> MultitaskConfig:
    import dataclasses

    return dataclasses.replace(cfg, **changes)
