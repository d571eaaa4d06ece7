"""The LSNet network (SEEDS.md, method 2), in torch.

    token ids ──► embedding + Transformer encoder ──► states (B, T, D)
                                                        │
    cluster membership m (B, K) ──► W_k m  ─────────────┤  (per kernel size k)
                                                        ▼
              Conv1d_k(states) + b_k + W_k m  ──► ReLU ──► max over time   (4 sizes k)
                                                        │
                         concat ──► FC ──► ReLU ──► dropout ──► 8 softmax heads (AV … A)

The **cluster bias**: each convolution's bias is ``b_k + W_k m``, where ``m`` is the
description's soft membership in the clusters of the analysis' feature space
(:class:`vulntax.analysis.space.ClusterSpace`) and ``W_k`` (filters × clusters) are the
cluster-association weights, learnt with the rest. ``W_k`` starts at zero, so training
starts from the plain network; with ``cluster_bias`` off there is no ``W_k`` at all
(the ablation). The Transformer is the same BERT-style stack as the multitask model's
from-scratch encoder (:class:`vulntax.models.multitask.encoders.TransformerStack`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vulntax.models.multitask.encoders import TransformerStack, init_weights


class LSNet(nn.Module):
    def __init__(
        self,
        vocab: int,
        dim: int,
        layers: int,
        heads: int,
        max_length: int,
        kernel_sizes: list[int],
        filters: int,
        hidden: int,
        dropout: float,
        clusters: int,
        cluster_bias: bool,
        classes: dict[str, int],  # metric -> number of values
    ):
        super().__init__()
        self.kernel_sizes = list(kernel_sizes)
        self.encoder = TransformerStack(vocab, dim, layers, heads, 2 * dim, max_length)
        self.convs = nn.ModuleList(nn.Conv1d(dim, filters, k) for k in self.kernel_sizes)
        self.cluster_weights = (
            nn.ParameterList(
                nn.Parameter(torch.zeros(filters, clusters)) for _ in self.kernel_sizes
            )
            if cluster_bias
            else None
        )
        self.fc = nn.Linear(filters * len(self.kernel_sizes), hidden)
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({m: nn.Linear(hidden, n) for m, n in classes.items()})
        self.apply(init_weights)

    def forward(
        self, ids: torch.Tensor, mask: torch.Tensor, membership: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Logits per metric, each (B, n_values). ``membership``: (B, K), rows sum to 1."""
        states = self.encoder(ids, mask).transpose(1, 2)  # (B, D, T)
        # padding states are zeroed, and every text is extended by k - 1 zero states, so that a
        # text's windows (one per real token) see the same zeros alone or in a padded batch
        states = states * mask[:, None, :].to(states.dtype)
        pooled = []
        for i, (k, conv) in enumerate(zip(self.kernel_sizes, self.convs, strict=True)):
            h = conv(F.pad(states, (0, k - 1)))  # (B, F, T), includes the plain bias b_k
            if self.cluster_weights is not None:
                h = h + (membership @ self.cluster_weights[i].T)[:, :, None]
            # only windows that start on a real token count (padding never wins the max)
            h = F.relu(h).masked_fill(~mask[:, None, :], 0.0)
            pooled.append(h.amax(dim=2))
        z = self.dropout(F.relu(self.fc(torch.cat(pooled, dim=1))))
        return {m: head(z) for m, head in self.heads.items()}
