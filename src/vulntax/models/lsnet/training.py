"""Batching, the training loop and batched inference of the LSNet network.

Descriptions are tokenized once; batches group texts of similar length (sorted by
length with random jitter, batch order shuffled each epoch), so little is padded.
Loss: the sum over the eight metrics of the cross-entropy (rows without a metric's
label are ignored). Optimiser: Adam, learning rate warmed up over the first 200 steps
(a tenth of the run, if shorter) and then decayed linearly to zero by the end of the
run: the planned steps, or the ``max_minutes`` time budget if that comes first (on a
slow or busy machine training then ends on schedule, with a fully decayed learning
rate, after fewer steps; the saved config's ``lsnet_history`` and the log say how many).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from vulntax.models.lsnet.network import LSNet

IGNORE = -100
WARMUP_STEPS = 200


def token_ids(tokenizer: Any, texts: Sequence[str]) -> list[np.ndarray]:
    """Token ids of every text (the tokenizer truncates to the model's max length)."""
    return [np.asarray(e.ids, dtype=np.int64) for e in tokenizer.encode_batch(list(texts))]


def pad(rows: Sequence[np.ndarray], minimum: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids padded with 0 to the longest row, and the mask of real tokens."""
    longest = max(minimum, max((len(r) for r in rows), default=1))
    ids = np.zeros((len(rows), longest), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    t = torch.from_numpy(ids)
    return t, t != 0


def length_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None
) -> list[np.ndarray]:
    """Row indices in batches of similar length; shuffled (with jitter) when ``rng`` is given."""
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    noisy = lengths + rng.uniform(-4.0, 4.0, size=len(lengths))
    order = np.argsort(noisy, kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def train_network(
    net: LSNet,
    ids: list[np.ndarray],
    membership: np.ndarray,
    targets: np.ndarray,  # (N, 8) value index per metric, IGNORE where unlabelled
    metrics: Sequence[str],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    label_smoothing: float,
    max_minutes: float | None,
    seed: int,
    log: Any,
    log_every: int,
) -> dict[str, Any]:
    """Train ``net`` in place; returns the history (loss per logged step, steps, stop reason)."""
    rng = np.random.default_rng(seed)
    lengths = np.fromiter((len(r) for r in ids), dtype=np.float64, count=len(ids))
    steps_per_epoch = math.ceil(len(ids) / batch_size)
    planned = epochs * steps_per_epoch
    warmup = max(1, min(WARMUP_STEPS, planned // 10))
    started = time.perf_counter()
    budget = 60 * max_minutes if max_minutes is not None else None

    def progress(s: int) -> float:  # fraction of the run done: steps, or time if that is first
        done = s / max(1, planned)
        if budget is not None:
            done = max(done, (time.perf_counter() - started) / budget)
        return min(1.0, done)

    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1.0 - progress(s))
    )
    target = torch.from_numpy(targets)
    member = torch.from_numpy(membership)
    history: dict[str, Any] = {"loss": [], "epoch_loss": [], "planned_steps": planned}
    step, stopped = 0, "all epochs run"
    net.train()
    for epoch in range(epochs):
        total, count = 0.0, 0
        for batch in length_batches(lengths, batch_size, rng):
            x, mask = pad([ids[i] for i in batch])
            out = net(x, mask, member[batch])
            y = target[batch]
            loss = sum(
                F.cross_entropy(
                    out[m], y[:, j], ignore_index=IGNORE, label_smoothing=label_smoothing
                )
                for j, m in enumerate(metrics)
            )
            assert isinstance(loss, torch.Tensor)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            step += 1
            total, count = total + loss.item(), count + 1
            if log_every and step % log_every == 0:
                history["loss"].append([step, round(total / count, 4)])
                rate = step / (time.perf_counter() - started)
                log(
                    f"  epoch {epoch + 1}/{epochs} step {step:,}/{planned:,}: "
                    f"loss {total / count:.3f} ({rate:.1f} steps/s)"
                )
            if max_minutes is not None and time.perf_counter() - started > 60 * max_minutes:
                stopped = f"time budget of {max_minutes} min reached"
                break
        history["epoch_loss"].append(round(total / max(1, count), 4))
        log(f"  epoch {epoch + 1}/{epochs}: mean loss {total / max(1, count):.3f}")
        if stopped != "all epochs run":
            break
    net.eval()
    history.update(
        steps=step,
        stopped=stopped,
        seconds=round(time.perf_counter() - started, 1),
    )
    log(f"  {step:,} steps in {history['seconds']:.0f} s ({stopped})")
    return history


def infer(
    net: LSNet, ids: list[np.ndarray], membership: np.ndarray, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """Logits per metric for every row, in the input order (no gradients)."""
    lengths = np.fromiter((len(r) for r in ids), dtype=np.float64, count=len(ids))
    out: dict[str, np.ndarray] = {}
    member = torch.from_numpy(membership)
    was_training = net.training
    net.eval()
    with torch.inference_mode():
        for batch in length_batches(lengths, batch_size, None):
            x, mask = pad([ids[i] for i in batch])
            logits = net(x, mask, member[batch])
            for m, value in logits.items():
                if m not in out:
                    out[m] = np.zeros((len(ids), value.shape[1]), dtype=np.float32)
                out[m][batch] = value.float().numpy()
    net.train(was_training)
    return out
