"""Training the multitask model: phases, the loss of each step, and the epoch loop.

1. **labels** — CWE classes and their View-1000 levels, CVSS values, CAPEC and
   ATT&CK label lists (:mod:`~vulntax.models.multitask.targets`);
2. **encoder** — MiniLM (frozen unless ``fine_tune``) or the from-scratch
   Transformer (tokenizer trained on the training texts), optionally
   **pre-trained** (MLM + CWE-pillar auxiliary, :mod:`.pretraining`);
3. **teacher** (with ``distillation``) — a network trained on CWE and CVSS only,
   whose softened predictions give every row soft CAPEC / ATT&CK targets;
4. **student** — the model itself, every head at once, with the **progressive**
   schedule (CWE levels enter coarse first, the flat classes last), the
   **constraint** loss and the **contrastive** label alignment;
5. **calibration** — one temperature per CWE / CVSS head on the calibration split.

With a frozen encoder the embeddings are computed once (and cached on disk,
:mod:`.cache`), so an epoch costs milliseconds per batch. The loop runs
unchanged under ``torchrun`` (PyTorch DDP, one process per GPU): each process
takes its share of every epoch's batches and DDP averages the gradients;
single-process runs (tests, CPU) skip all of that.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from vulntax.models.multitask import losses
from vulntax.models.multitask.config import MultitaskConfig
from vulntax.models.multitask.encoders import TextEncoder, length_order
from vulntax.models.multitask.heads import MultitaskNet
from vulntax.models.multitask.hierarchy import Hierarchy, path_log_scores
from vulntax.models.multitask.targets import Targets


# ---------------------------------------------------------------------- distributed
@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0


def distributed() -> Dist:
    """The process's place under torchrun (WORLD_SIZE > 1), else a single CPU/GPU process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world <= 1:
        return Dist(device="cuda" if cuda else "cpu")
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    return Dist(rank, dist.get_world_size(), f"cuda:{local}" if cuda else "cpu")


def ddp_wrap(dist: Dist) -> Callable[[nn.Module], nn.Module] | None:
    if dist.world <= 1:
        return None
    from torch.nn.parallel import DistributedDataParallel

    def wrap(module: nn.Module) -> nn.Module:
        ids = [int(dist.device.split(":")[1])] if dist.device.startswith("cuda") else None
        return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)

    return wrap


# ---------------------------------------------------------------------- the network + input
class Pipeline(nn.Module):
    """Rows -> head logits: frozen features looked up, or a trainable encoder run on texts."""

    def __init__(self, net: MultitaskNet, encoder: TextEncoder | None):
        super().__init__()
        self.net = net
        self.encoder = encoder  # None: inputs are precomputed (frozen) embeddings

    def forward(self, inputs: Any) -> dict[str, Any]:
        x = self.encoder.embed(inputs) if self.encoder is not None else inputs
        return self.net(x)


def class_scores(out: dict[str, Any], hierarchy: Hierarchy, mode: str) -> torch.Tensor:
    """(B, n_classes) unnormalised log-scores of the CWE classes for ``mode``."""
    flat = F.log_softmax(out["cwe"], dim=1)
    if mode == "flat":
        return flat
    level_lp = [F.log_softmax(lg, dim=1) for lg in out["levels"]]
    targets = torch.as_tensor(hierarchy.targets, device=flat.device)
    path = torch.zeros_like(flat)
    for level, lp in enumerate(level_lp):
        path = path + lp[:, targets[:, level]]
    return path if mode == "levels" else flat + path


def numpy_class_scores(
    flat_logits: np.ndarray, level_logits: Sequence[np.ndarray], h: Hierarchy, mode: str
) -> np.ndarray:
    def log_softmax(z: np.ndarray) -> np.ndarray:
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    flat = log_softmax(flat_logits)
    if mode == "flat":
        return flat
    path = path_log_scores(h, [log_softmax(z) for z in level_logits])
    return path if mode == "levels" else flat + path


# ---------------------------------------------------------------------- one step's loss
@dataclass
class LossSetup:
    hierarchy: Hierarchy
    cfg: MultitaskConfig
    parents: list[torch.Tensor]
    capec_pairs: torch.Tensor  # (n_links, 2) class row, CAPEC column
    attack_pairs: torch.Tensor
    heads: tuple[str, ...] = ("cwe", "cvss", "capec", "attack")
    kev_weight: float = 20.0

    def stage_weights(self, epoch: float) -> tuple[list[float], float]:
        """Per-level weights and the flat-class weight at ``epoch`` (progressive schedule)."""
        depth = self.hierarchy.depth
        use_levels = self.cfg.cwe_output != "flat" or self.cfg.constraint_weight > 0
        if not use_levels:
            return [0.0] * depth, 1.0
        if not self.cfg.progressive or epoch >= self.cfg.progressive_epochs:
            return [1.0] * depth, 1.0
        # 0 .. depth; a fractional epoch (fine-tuning) moves on within the epoch
        stage = int(epoch * (depth + 1) / self.cfg.progressive_epochs)
        return [1.0 if level <= stage else 0.0 for level in range(depth)], float(stage >= depth)

    def __call__(
        self, out: dict[str, Any], t: dict[str, torch.Tensor], epoch: float, net: MultitaskNet
    ) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.cfg
        parts: dict[str, torch.Tensor] = {}
        level_w, flat_w = self.stage_weights(epoch)
        smoothing = cfg.label_smoothing
        if "cwe" in self.heads:
            parts["cwe"] = flat_w * losses.masked_ce(out["cwe"], t["cwe"], smoothing)
            if any(level_w):
                parts["levels"] = losses.level_loss(out["levels"], t["levels"], level_w, smoothing)
            if cfg.constraint_weight > 0 and any(level_w):
                parts["constraint"] = cfg.constraint_weight * losses.constraint_loss(
                    out["levels"], self.parents
                )
        if "cvss" in self.heads:
            parts["cvss"] = sum(  # type: ignore[assignment]
                losses.masked_ce(out["cvss"][m], t["cvss"][:, j], smoothing)
                for j, m in enumerate(net.metrics)
            ) / len(net.metrics)
        if "capec" in self.heads:
            parts["capec"] = losses.soft_bce(out["capec"], t["capec"], t["capec_rows"])
        if "attack" in self.heads:
            weight = 1.0 + (self.kev_weight - 1.0) * t["kev_rows"].float()  # (B,)
            rows = t["attack_rows"]
            if bool(rows.any()):
                bce = (
                    F.binary_cross_entropy_with_logits(
                        out["attack"][rows], t["attack"][rows], reduction="none"
                    ).sum(1)
                    / max(1, out["attack"].shape[1]) ** 0.5
                )
                parts["attack"] = (bce * weight[rows]).sum() / weight[rows].sum()
        if cfg.contrastive_weight > 0 and "capec" in self.heads:
            align = losses.alignment_loss(
                net.cwe_flat.weight,
                net.capec.weight,
                self.capec_pairs,
                cfg.contrastive_temperature,
            ) + losses.alignment_loss(
                net.cwe_flat.weight,
                net.attack.weight,
                self.attack_pairs,
                cfg.contrastive_temperature,
            )
            parts["contrastive"] = cfg.contrastive_weight * align
        total = sum(parts.values())
        return total, {k: float(v.detach()) for k, v in parts.items()}  # type: ignore[return-value]


def target_tensors(t: Targets, rows: np.ndarray, device: str) -> dict[str, torch.Tensor]:
    def to(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a[rows], device=device)

    return {
        "cwe": to(t.cwe), "levels": to(t.levels), "cvss": to(t.cvss),
        "capec": to(t.capec), "capec_rows": to(t.capec_rows),
        "attack": to(t.attack), "attack_rows": to(t.attack_rows), "kev_rows": to(t.kev_rows),
    }  # fmt: skip


# ---------------------------------------------------------------------- the epoch loop
@dataclass
class Extras:
    """What a trainable encoder's run adds (:mod:`.finetune`); all optional."""

    lengths: np.ndarray | None = None  # token count per row (length-bucketed batches)
    score: Callable[[nn.Module], float] | None = None  # validation score (early stopping)
    checkpoint_key: dict[str, Any] | None = None  # identifies the run for resuming
    online_links: tuple[torch.Tensor, torch.Tensor] | None = None  # CAPEC, ATT&CK links


def run_epochs(
    pipeline: Pipeline,
    inputs: np.ndarray | Sequence[str],  # frozen embeddings (N, D), or texts
    targets: Targets,
    loss: LossSetup,
    epochs: int,
    cfg: MultitaskConfig,
    seed: int,
    dist: Dist,
    log: Any,
    label: str,
    extras: Extras | None = None,
) -> list[float]:
    """Train ``pipeline`` in place; returns the mean loss of every epoch.

    Frozen inputs train on random batches under a one-cycle schedule. A trainable encoder
    (or a ``max_minutes`` budget) uses :mod:`.finetune`: length-bucketed batches, a schedule
    fitted to the budget, checkpoints, early stopping on validation and bf16 on CUDA."""
    from vulntax.models.multitask import finetune as ft

    extras = extras or Extras()
    n = len(inputs)
    batches = max(1, -(-n // (cfg.batch_size * dist.world)))
    total_steps = max(2, batches * epochs)
    groups: list[dict[str, Any]] = [{"params": list(pipeline.net.parameters()), "lr": cfg.lr}]
    if pipeline.encoder is not None:
        encoder_lr = cfg.pretrain_lr if pipeline.encoder.name == "scratch" else cfg.encoder_lr
        groups.append({"params": list(pipeline.encoder.parameters()), "lr": encoder_lr})
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    fine = pipeline.encoder is not None or cfg.max_minutes > 0
    schedule: Any
    if fine:
        schedule = ft.Schedule(optimizer, total_steps, cfg.max_minutes, cfg.warmup)
    else:
        # warm-up over 10 % of the steps, at least 2: OneCycleLR divides by zero when
        # pct_start × total_steps is exactly 1 (e.g. 5 batches × 2 epochs)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=[float(g["lr"]) for g in groups],
            total_steps=total_steps,
            pct_start=max(0.1, 2 / total_steps),
        )
    wrap = ddp_wrap(dist)
    model: nn.Module = wrap(pipeline) if wrap is not None else pipeline
    features = (
        torch.as_tensor(np.asarray(inputs), device=dist.device)
        if pipeline.encoder is None
        else None
    )
    stopper = (
        ft.EarlyStopping(extras.score, pipeline, cfg.patience, log if dist.main else _quiet)
        if fine and extras.score is not None and cfg.eval_rows > 0
        else None
    )
    checkpoints = ft.Checkpointer(
        cfg.checkpoint_dir if fine else None,
        label,
        {"run": extras.checkpoint_key, "rows": n, "seed": seed, "world": dist.world},
        cfg.checkpoint_minutes,
    )
    start_epoch, start_batch = 0, 0
    history: list[float] = []
    resumed = checkpoints.load(pipeline, optimizer, stopper)
    if resumed is not None:
        start_epoch, start_batch = int(resumed["epoch"]), int(resumed["batch"])
        history = [float(x) for x in resumed["history"]]
        schedule = ft.Schedule(
            optimizer, total_steps, cfg.max_minutes, cfg.warmup, float(resumed["seconds"])
        )
        schedule.base = [float(x) for x in resumed["base_lr"]]
        schedule.step_count = int(resumed["step"])
        schedule.set(schedule.progress())
        if dist.main:
            log(f"{label}: resumed from its checkpoint (epoch {start_epoch + 1}, batch "
                f"{start_batch}, {resumed['seconds']:.0f} s done)")  # fmt: skip
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    every = cfg.eval_minutes * 60.0 if cfg.eval_minutes else math.inf
    next_eval = (schedule.elapsed() if fine else 0.0) + every  # after a resume too
    stop = early = False
    model.train()
    for epoch in range(start_epoch, epochs):
        if fine and pipeline.encoder is not None:
            plan = ft.bucketed_batches(
                n,
                extras.lengths if cfg.length_buckets else None,
                cfg.batch_size,
                np.random.default_rng([seed, epoch]),
                dist.rank,
                dist.world,
            )
        else:
            order = rng.permutation(n)
            mine = order[dist.rank :: dist.world][: batches * cfg.batch_size]
            plan = [mine[b * cfg.batch_size : (b + 1) * cfg.batch_size] for b in range(batches)]
        sums: dict[str, float] = {}
        total, done = 0.0, 0
        epoch_started = last_log = time.perf_counter()
        first = start_batch if epoch == start_epoch else 0
        for b in range(first, len(plan)):
            rows = plan[b]
            if len(rows) == 0:
                continue
            x = features[rows] if features is not None else [inputs[i] for i in rows]
            t = target_tensors(targets, rows, dist.device)
            with ft.autocast(dist.device, cfg.precision):
                out = model(x)
                if extras.online_links is not None:
                    t = ft.online_soft_targets(
                        out["cwe"], t, *extras.online_links, cfg.distill_temperature
                    )
                value, parts = loss(out, t, epoch + b / len(plan) if fine else epoch, pipeline.net)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            nn.utils.clip_grad_norm_(pipeline.parameters(), 5.0)
            optimizer.step()
            total += float(value.detach())
            done += 1
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            if not fine:
                schedule.step()
                continue
            progress = ft.synced_progress(schedule, dist.world, dist.device)
            schedule.step(progress)
            if dist.main and time.perf_counter() - last_log >= LOG_SECONDS:
                last_log = time.perf_counter()
                rate = done * cfg.batch_size * dist.world / max(1e-9, last_log - epoch_started)
                log(
                    f"  {label}: epoch {epoch + 1}, batch {b + 1}/{len(plan)}, loss "
                    f"{total / done:.4f}, {rate:.1f} texts/s, {progress:.0%} of the budget"
                )
            if progress >= 1.0:
                stop = True
                break
            if stopper is not None and schedule.elapsed() >= next_eval:
                next_eval = schedule.elapsed() + every
                early = stop = stopper.check(f"epoch {epoch + 1}, batch {b + 1}")
                if stop:
                    break
            if checkpoints.due():
                position = {
                    "epoch": epoch, "batch": b + 1, "step": schedule.step_count,
                    "seconds": schedule.elapsed(), "history": history,
                    "base_lr": schedule.base,
                }  # fmt: skip
                if dist.main:
                    checkpoints.save(pipeline, optimizer, position, stopper)
        history.append(total / max(1, done))
        last = stop or epoch == epochs - 1
        if stopper is not None and not early:
            where = f"the end of epoch {epoch + 1}" if not stop else "the end of the budget"
            early = stopper.check(where)
            stop = stop or early
            last = last or stop
        if dist.main and (last or (cfg.log_every and (epoch + 1) % cfg.log_every == 0)):
            detail = ", ".join(f"{k} {v / max(1, done):.3f}" for k, v in sums.items())
            log(
                f"{label} epoch {epoch + 1}/{epochs}: loss {history[-1]:.4f} ({detail}; "
                f"{time.perf_counter() - started:.0f} s)"
            )
        if stop:
            break
    if stopper is not None:
        stopper.restore()
    if dist.main and checkpoints.files is not None:  # a finished phase resumes as finished
        done_at = {"epoch": epochs, "batch": 0, "step": getattr(schedule, "step_count", 0),
                   "seconds": getattr(schedule, "elapsed", lambda: 0.0)(),
                   "history": history, "base_lr": getattr(schedule, "base", [])}  # fmt: skip
        checkpoints.save(pipeline, optimizer, done_at, stopper)
    model.eval()
    return history


LOG_SECONDS = 300.0  # a progress line this often during a long (fine-tuning) phase


def _quiet(message: str) -> None:
    pass


def forward_all(
    pipeline: Pipeline, inputs: np.ndarray | Sequence[str], device: str, batch: int = 1024
) -> dict[str, Any]:
    """Head logits of every row, as numpy arrays, without gradients."""
    pipeline.eval()
    chunks: list[dict[str, Any]] = []
    step = batch if pipeline.encoder is None else 64
    order = np.arange(len(inputs))
    if pipeline.encoder is not None and len(inputs) > step:
        # texts of similar length together: little padding (≈1.5× faster on CPU)
        order = length_order(pipeline.encoder, inputs)
    with torch.inference_mode():
        for start in range(0, len(inputs), step):
            rows = order[start : start + step]
            x = (
                torch.as_tensor(np.asarray(inputs)[rows], device=device)
                if pipeline.encoder is None
                else [inputs[i] for i in rows]
            )
            out = pipeline(x)
            chunks.append({
                "cwe": out["cwe"].float().cpu().numpy(),
                "levels": [z.float().cpu().numpy() for z in out["levels"]],
                "cvss": {m: z.float().cpu().numpy() for m, z in out["cvss"].items()},
                "capec": out["capec"].float().cpu().numpy(),
                "attack": out["attack"].float().cpu().numpy(),
            })  # fmt: skip
    if not chunks:
        raise ValueError("no inputs")
    back = np.empty_like(order)
    back[order] = np.arange(len(order))

    def join(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts)[back]

    return {
        "cwe": join([c["cwe"] for c in chunks]),
        "levels": [join([c["levels"][i] for c in chunks])
                   for i in range(len(chunks[0]["levels"]))],
        "cvss": {m: join([c["cvss"][m] for c in chunks]) for m in chunks[0]["cvss"]},
        "capec": join([c["capec"] for c in chunks]),
        "attack": join([c["attack"] for c in chunks]),
    }  # fmt: skip


def new_pipeline(
    in_dim: int,
    sizes: dict[str, Any],
    cfg: MultitaskConfig,
    encoder: TextEncoder | None,
    seed: int,
    device: str,
) -> Pipeline:
    torch.manual_seed(seed)
    net = MultitaskNet(
        in_dim,
        cfg.hidden,
        cfg.token_dim,
        sizes["classes"],
        sizes["levels"],
        sizes["cvss"],
        sizes["capec"],
        sizes["attack"],
        cfg.cross_attention,
        cfg.attention_heads,
        cfg.dropout,
    )
    return Pipeline(net, copy.deepcopy(encoder) if encoder is not None else None).to(device)
