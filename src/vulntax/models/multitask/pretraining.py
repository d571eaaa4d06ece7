"""Hierarchy-aware domain pre-training of a trainable encoder.

Masked-language-model training on the vulnerability descriptions (BERT's
recipe: 15 % of the tokens chosen; of those 80 % become ``[MASK]``, 10 % a random
token, 10 % stay) with an **auxiliary objective**: predict the text's CWE
category — the View-1000 pillar at the top of its CWE class's path — from the
pooled states. The MLM decoder is tied to the word embeddings.

This only makes sense for a trainable encoder: the from-scratch Transformer
(affordable on CPU for a few thousand steps) or a MiniLM fine-tune (a GPU job).
The contrastive cross-taxonomy alignment of label embeddings, the other
pre-training objective of the design, acts on the heads and is in
:func:`vulntax.models.multitask.losses.alignment_loss`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from torch import nn
from torch.nn import functional as F

from vulntax.models.multitask.encoders import TextEncoder, mean_pool


class _PretrainHeads(nn.Module):
    def __init__(self, encoder: TextEncoder, n_categories: int):
        super().__init__()
        dim = encoder.dim
        self.encoder = encoder
        self.transform = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim))
        vocab = encoder.stack.embeddings.word_embeddings.num_embeddings
        self.bias = nn.Parameter(torch.zeros(vocab))
        self.category = nn.Linear(dim, max(1, n_categories))

    def forward(
        self, ids: torch.Tensor, mask: torch.Tensor, chosen: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(vocabulary logits of the ``chosen`` positions only, (K, V); category logits).

        Decoding only the masked positions (15 %) instead of all B×T of them saves most of
        a step's memory and time: 32 × 128 × 30,522 floats are 0.5 GB."""
        states = self.encoder.stack(ids, mask)  # (B, T, D)
        words = self.encoder.stack.embeddings.word_embeddings.weight  # (V, D), tied decoder
        token_logits = self.transform(states[chosen]) @ words.T + self.bias  # (K, V)
        return token_logits, self.category(mean_pool(states, mask))


def mask_tokens(
    ids: torch.Tensor,
    mask: torch.Tensor,
    special: Sequence[int],
    mask_id: int,
    vocab: int,
    rate: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(corrupted ids, MLM targets with -100 where nothing is predicted)."""
    candidates = mask.clone()
    for token in special:
        candidates &= ids != token
    chosen = (torch.rand(ids.shape, generator=generator) < rate) & candidates
    targets = torch.where(chosen, ids, torch.full_like(ids, -100))
    roll = torch.rand(ids.shape, generator=generator)
    corrupted = ids.clone()
    corrupted[chosen & (roll < 0.8)] = mask_id
    random_tokens = torch.randint(len(special), vocab, ids.shape, generator=generator)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    corrupted[swap] = random_tokens[swap]
    return corrupted, targets


def warmup_cosine(step: int, steps: int) -> float:
    """The learning-rate factor at ``step`` of ``steps``: a linear warm-up over the first
    10 % (at least one step), then a cosine decay towards 0. (torch's OneCycleLR divides by
    zero for some step counts, 10 among them.)"""
    warm = max(1, round(0.1 * steps))
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1.0 + math.cos(math.pi * (step - warm + 1) / max(1, steps - warm + 1)))


def pretrain(
    encoder: TextEncoder,
    texts: Sequence[str],
    categories: np.ndarray,  # (N,) pillar index per text, -1 where unknown
    n_categories: int,
    steps: int,
    batch_size: int,
    lr: float,
    mask_rate: float,
    aux_weight: float,
    seed: int,
    log: Any,
    wrap: Any = None,  # e.g. DistributedDataParallel, for several GPUs
    rank: int = 0,
    world: int = 1,
) -> list[float]:
    """Train ``encoder`` in place; returns the loss of every step."""
    tok = encoder.tokenizer
    special = [tok.token_to_id(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")]
    if any(s is None for s in special):
        raise ValueError("the tokenizer lacks BERT's special tokens")
    vocab = tok.get_vocab_size()
    heads = _PretrainHeads(encoder, n_categories)
    model: nn.Module = wrap(heads) if wrap is not None else heads
    device = next(encoder.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, partial(warmup_cosine, steps=steps))
    generator = torch.Generator().manual_seed(seed + rank)
    rng = np.random.default_rng(seed)
    cats = torch.as_tensor(categories, dtype=torch.long)
    losses: list[float] = []
    model.train()
    for step in range(steps):
        rows = rng.choice(len(texts), size=min(batch_size * world, len(texts)), replace=False)
        rows = rows[rank::world]
        ids, mask = encoder.tokenize([texts[i] for i in rows])
        corrupted, targets = mask_tokens(
            ids, mask, special, int(special[4]), vocab, mask_rate, generator
        )
        chosen = targets >= 0
        token_logits, category_logits = model(
            corrupted.to(device), mask.to(device), chosen.to(device)
        )
        mlm = (
            F.cross_entropy(token_logits, targets[chosen].to(device))
            if bool(chosen.any())
            else token_logits.sum() * 0.0
        )
        target_cats = cats[rows].to(device)
        aux = (
            F.cross_entropy(category_logits[target_cats >= 0], target_cats[target_cats >= 0])
            if bool((target_cats >= 0).any())
            else mlm * 0.0
        )
        loss = mlm + aux_weight * aux
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if rank == 0 and (step + 1) % max(1, steps // 5) == 0:
            recent = np.mean(losses[-max(1, steps // 5) :])
            log(f"  pre-training step {step + 1}/{steps}: loss {recent:.3f}")
    return losses


# ---------------------------------------------------------------------- checkpoint
CHECKPOINT = "pretrained-encoder"  # .safetensors (the encoder's weights) + .json (the run key)


def save_checkpoint(encoder: TextEncoder, folder: str | None, key: dict[str, Any]) -> None:
    """Keep the pre-trained encoder in the run's checkpoint folder (nothing without one), so
    that a resumed run does not pre-train again."""
    if folder is None:
        return
    from safetensors.torch import save_file

    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    weights = path / f"{CHECKPOINT}.safetensors"
    save_file(tensors, str(weights) + ".tmp")
    Path(str(weights) + ".tmp").replace(weights)
    (path / f"{CHECKPOINT}.json").write_text(json.dumps({"key": _digest(key)}), encoding="utf-8")


def load_checkpoint(encoder: TextEncoder, folder: str | None, key: dict[str, Any]) -> bool:
    """Load the pre-trained encoder of this run (same settings, data and texts) into
    ``encoder``; False when there is none, it belongs to other settings, or it is damaged
    (then the encoder is pre-trained again)."""
    if folder is None:
        return False
    path = Path(folder)
    weights, info = path / f"{CHECKPOINT}.safetensors", path / f"{CHECKPOINT}.json"
    try:
        if json.loads(info.read_text(encoding="utf-8")).get("key") != _digest(key):
            return False
        from safetensors.torch import load_file

        state = load_file(str(weights))
        encoder.load_state_dict(state, strict=True)
    except (OSError, ValueError, RuntimeError, AttributeError, SafetensorError):
        return False
    return True


def _digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
