"""The training losses, each a plain function of logits and targets.

* :func:`masked_ce` — cross-entropy over the rows that have a target (-1: none);
* :func:`level_loss` — one cross-entropy per CWE level, weighted per level (the
  progressive schedule sets the weights);
* :func:`constraint_loss` — penalises a node more probable than its parent:
  mean over rows of Σ_nodes relu(P_ℓ(node) − P_{ℓ-1}(parent));
* :func:`soft_bce` — binary cross-entropy against hard or soft (distilled) targets;
* :func:`alignment_loss` — contrastive (InfoNCE) alignment of linked label
  embeddings across taxonomies: a CWE class's embedding should be nearer to the
  CAPEC patterns / ATT&CK techniques the catalog links it to than to the others,
  and the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F


def masked_ce(logits: torch.Tensor, target: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy over rows whose target is not -1 (0 when there is none)."""
    keep = target >= 0
    if not bool(keep.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[keep], target[keep], label_smoothing=smoothing)


def level_loss(
    level_logits: Sequence[torch.Tensor],
    targets: torch.Tensor,  # (B, depth) column per level; rows without a CWE have -1
    weights: Sequence[float],
    smoothing: float = 0.0,
) -> torch.Tensor:
    total = level_logits[0].sum() * 0.0
    for level, logits in enumerate(level_logits):
        if weights[level] > 0:
            total = total + weights[level] * masked_ce(logits, targets[:, level], smoothing)
    return total


def constraint_loss(
    level_logits: Sequence[torch.Tensor], parents: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Mean over rows of Σ relu(P(child) − P(parent)); ``parents[ℓ]``: (n_nodes_ℓ,) columns."""
    probs = [F.softmax(logits, dim=1) for logits in level_logits]
    total = probs[0].sum() * 0.0
    for level in range(1, len(probs)):
        child = probs[level][:, 1:]  # (B, n_nodes_ℓ)
        parent = probs[level - 1][:, parents[level]]  # (B, n_nodes_ℓ)
        total = total + F.relu(child - parent).sum(dim=1).mean()
    return total


def soft_bce(logits: torch.Tensor, target: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """BCE (mean over labels, then over the rows where ``rows`` is True)."""
    if not bool(rows.any()):
        return logits.sum() * 0.0
    loss = F.binary_cross_entropy_with_logits(logits[rows], target[rows], reduction="none")
    return loss.sum(dim=1).mean() / max(1, logits.shape[1]) ** 0.5


def alignment_loss(
    left: torch.Tensor,  # (n_left, H) label embeddings, e.g. the CWE classes'
    right: torch.Tensor,  # (n_right, H), e.g. the CAPEC patterns'
    links: torch.Tensor,  # (n_links, 2) long: (left row, right row) pairs the catalog states
    temperature: float,
) -> torch.Tensor:
    if links.numel() == 0:
        return left.sum() * 0.0
    a = F.normalize(left, dim=1)
    b = F.normalize(right, dim=1)
    sim = a @ b.T / temperature  # (n_left, n_right)
    forward = F.cross_entropy(sim[links[:, 0]], links[:, 1])  # each link: its pattern among all
    backward = F.cross_entropy(sim.T[links[:, 1]], links[:, 0])
    return (forward + backward) / 2
