"""What end-to-end fine-tuning adds to the epoch loop (:func:`.training.run_epochs`).

* :func:`bucketed_batches` — batches of texts of similar token length (shuffled in
  chunks, sorted within a chunk, the batch order shuffled again), so that a batch
  pads little: on 2 CPU cores MiniLM trains ≈1.5× faster than on random batches;
* :class:`Schedule` — the learning rate as a function of *progress*, the larger of
  the share of steps done and the share of the wall-clock budget spent
  (``max_minutes``): linear warm-up, then linear decay that reaches 0 exactly when
  the budget runs out, so a short budget still ends on a fully decayed schedule;
* :class:`Checkpointer` — resumable checkpoints (weights, optimizer moments, the
  torch random state, the position in the epoch) as safetensors + JSON, nothing
  pickled; a run started again with the same settings resumes where it stopped;
* :class:`EarlyStopping` — scores validation rows at epoch ends (and every
  ``eval_minutes``), keeps the best weights and stops after ``patience`` scores
  without improvement;
* :func:`online_soft_targets` — distillation at no extra cost: the model's own
  detached CWE head, softened, gives soft CAPEC / ATT&CK targets through the
  catalog links (``distillation_mode = "online"``);
* :func:`autocast` — bf16 autocast on CUDA (``precision``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vulntax.errors import ModelError

CHUNK = 64  # batches per length-sorted chunk


def bucketed_batches(
    n: int,
    lengths: np.ndarray | None,
    batch_size: int,
    rng: np.random.Generator,
    rank: int,
    world: int,
) -> list[np.ndarray]:
    """One epoch's batches of the row indices 0..n-1 for process ``rank`` of ``world``; every
    process gets the same number of batches. ``lengths=None``: plain random batches."""
    order = rng.permutation(n)
    if lengths is not None:
        span = batch_size * CHUNK
        order = np.concatenate(
            [
                chunk[np.argsort(lengths[chunk], kind="stable")]
                for chunk in np.split(order, range(span, n, span))
            ]
        )
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    batches = [batches[i] for i in rng.permutation(len(batches))]
    usable = max(1, len(batches) // world) * world if len(batches) >= world else len(batches)
    return batches[rank:usable:world]


class Schedule:
    """Learning rate = base × f(progress); progress = max(steps share, budget share)."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_steps: int,
        minutes: float,
        warmup: float,
        spent_seconds: float = 0.0,
    ):
        self.optimizer = optimizer
        self.base = [float(g["lr"]) for g in optimizer.param_groups]
        self.total_steps = max(1, total_steps)
        self.seconds = minutes * 60.0
        self.warmup = warmup
        self.started = time.perf_counter() - spent_seconds
        self.step_count = 0
        self.set(0.0)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def progress(self) -> float:
        share = self.step_count / self.total_steps
        if self.seconds > 0:
            share = max(share, self.elapsed() / self.seconds)
        return min(1.0, share)

    def factor(self, progress: float) -> float:
        if self.warmup > 0 and progress < self.warmup:
            return max(progress / self.warmup, 0.01)
        return max(0.0, (1.0 - progress) / max(1e-9, 1.0 - self.warmup))

    def set(self, progress: float) -> None:
        f = self.factor(progress)
        for group, base in zip(self.optimizer.param_groups, self.base, strict=True):
            group["lr"] = base * f

    def step(self, progress: float | None = None) -> None:
        self.step_count += 1
        self.set(self.progress() if progress is None else progress)


def synced_progress(schedule: Schedule, world: int, device: str) -> float:
    """The largest progress of all processes, so that every process stops at the same step."""
    progress = schedule.progress()
    if world > 1:
        import torch.distributed as dist

        t = torch.tensor([progress], dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        progress = float(t.item())
    return progress


def autocast(device: str, precision: str) -> contextlib.AbstractContextManager[Any]:
    if device.startswith("cuda") and precision in ("auto", "bf16"):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    if precision == "bf16" and device == "cpu":
        return torch.autocast(device_type="cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def online_soft_targets(
    cwe_logits: torch.Tensor,
    t: dict[str, torch.Tensor],
    capec_links: torch.Tensor,
    attack_links: torch.Tensor,
    temperature: float,
    mix: float = 0.5,
) -> dict[str, torch.Tensor]:
    """``t`` with CAPEC / ATT&CK targets distilled from the model's own CWE head: every row
    gets p(label) = Σ_c p(c) · link(c, label), mixed half-and-half with hard targets where a
    row has them; analysts' (KEV) ATT&CK labels stay as they are."""
    p = torch.softmax(cwe_logits.detach().float() / temperature, dim=1)
    capec_soft = (p @ capec_links).clamp(0.0, 1.0)
    attack_soft = (p @ attack_links).clamp(0.0, 1.0)
    capec = torch.where(
        t["capec_rows"][:, None], (1 - mix) * t["capec"] + mix * capec_soft, capec_soft
    )
    attack = torch.where(
        t["attack_rows"][:, None], (1 - mix) * t["attack"] + mix * attack_soft, attack_soft
    )
    kev = t["kev_rows"]
    attack = torch.where(kev[:, None], t["attack"], attack)
    everyone = torch.ones_like(t["capec_rows"])
    return {**t, "capec": capec, "capec_rows": everyone, "attack": attack, "attack_rows": everyone}


# ---------------------------------------------------------------------- early stopping
class EarlyStopping:
    """Keeps the best-scoring weights; ``stop`` after ``patience`` scores without gain."""

    def __init__(
        self, score: Callable[[nn.Module], float], module: nn.Module, patience: int, log: Any
    ):
        self.score_fn = score
        self.module = module
        self.patience = patience
        self.log = log
        self.best = -math.inf
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad = 0
        self.history: list[float] = []

    def check(self, where: str) -> bool:
        """Score now; True when training should stop."""
        was_training = self.module.training
        score = self.score_fn(self.module)
        self.module.train(was_training)
        self.history.append(score)
        if score > self.best + 1e-6:
            self.best, self.bad = score, 0
            self.best_state = {k: v.detach().cpu().clone() for k, v in state(self.module).items()}
            self.log(f"  validation score {score:.4f} at {where} (best so far)")
        else:
            self.bad += 1
            self.log(f"  validation score {score:.4f} at {where} (best {self.best:.4f})")
        return self.patience > 0 and self.bad >= self.patience

    def restore(self) -> None:
        if self.best_state is not None:
            self.module.load_state_dict(self.best_state)


def state(module: nn.Module) -> dict[str, torch.Tensor]:
    return dict(module.state_dict())


# ---------------------------------------------------------------------- checkpoints
class Checkpointer:
    """``<dir>/<label>.safetensors`` + ``<label>.json``; written atomically every N minutes."""

    def __init__(self, folder: str | None, label: str, key: dict[str, Any], minutes: float):
        self.folder = Path(folder) if folder else None
        self.label = label
        self.key = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        self.seconds = minutes * 60.0
        self.last = time.perf_counter()

    @property
    def files(self) -> tuple[Path, Path] | None:
        if self.folder is None:
            return None
        return self.folder / f"{self.label}.safetensors", self.folder / f"{self.label}.json"

    def due(self) -> bool:
        return self.folder is not None and time.perf_counter() - self.last >= self.seconds

    def save(
        self,
        module: nn.Module,
        optimizer: torch.optim.Optimizer,
        position: dict[str, Any],
        best: EarlyStopping | None,
    ) -> None:
        from safetensors.torch import save_file

        files = self.files
        if files is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in state(module).items()}
        for i, s in optimizer.state_dict()["state"].items():
            for name, value in s.items():
                tensor = value if torch.is_tensor(value) else torch.tensor(float(value))
                tensors[f"opt.{i}.{name}"] = tensor.detach().cpu().contiguous()
        tensors["rng.torch"] = torch.random.get_rng_state()
        if best is not None and best.best_state is not None:
            tensors.update({f"best.{k}": v.contiguous() for k, v in best.best_state.items()})
        about = {
            "key": self.key,
            "position": position,
            "best": None if best is None else {"score": best.best, "bad": best.bad},
        }
        weights, info = files
        save_file(tensors, str(weights) + ".tmp")
        Path(str(weights) + ".tmp").replace(weights)
        info.write_text(json.dumps(about, indent=1), encoding="utf-8")
        self.last = time.perf_counter()

    def load(
        self, module: nn.Module, optimizer: torch.optim.Optimizer, best: EarlyStopping | None
    ) -> dict[str, Any] | None:
        """The saved position, with ``module`` and ``optimizer`` restored; None: no checkpoint
        of this run (a checkpoint of other settings is ignored, not resumed)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        files = self.files
        if files is None or not files[0].is_file() or not files[1].is_file():
            return None
        weights, info = files
        try:
            about = json.loads(info.read_text(encoding="utf-8"))
            tensors = load_file(str(weights))
        except (OSError, ValueError, SafetensorError) as exc:
            raise ModelError(
                f"{weights}: an unreadable checkpoint ({exc}); delete it to start afresh"
            ) from exc
        if about.get("key") != self.key:
            return None
        module.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        saved = optimizer.state_dict()
        for name, value in tensors.items():
            if name.startswith("opt."):
                _, i, key = name.split(".", 2)
                saved["state"].setdefault(int(i), {})[key] = value
        optimizer.load_state_dict(saved)
        torch.random.set_rng_state(tensors["rng.torch"])
        if best is not None and about.get("best"):
            best.best = float(about["best"]["score"])
            best.bad = int(about["best"]["bad"])
            best_state = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
            best.best_state = best_state or None
        return dict(about["position"])
