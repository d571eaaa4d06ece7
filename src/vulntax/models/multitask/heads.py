"""The per-taxonomy heads over the shared encoder, with cross-taxonomy attention.

From the pooled text embedding (B, D_enc) a shared trunk makes one vector
(B, H); each head then gets its own small *token*, a learnt projection of it:

    cwe, AV, AC, PR, UI, S, C, I, A, capec, attack   -> tokens (B, 11, K)

With ``cross_attention`` one attention layer lets every token read the
others (a token never attends to itself: the diagonal is masked), so the CAPEC
and ATT&CK heads can use what the CWE and CVSS heads see, e.g. a high
availability impact for denial-of-service techniques. Each head reads the
shared vector and its own token, concatenated (B, H + K); tokens are small
(K = 64 by default) because this CPU manages only ~5 GFLOP/s under load, so the
attention over 11 tokens must stay cheap:

* CWE — a flat softmax over the classes, and one softmax per View-1000 level
  (nodes + STOP, see :mod:`~vulntax.models.multitask.hierarchy`);
* CVSS — one softmax per base metric;
* CAPEC, ATT&CK — independent sigmoids (multi-label).

The output layers' weight rows are the *label embeddings* that the
contrastive alignment loss pulls together across taxonomies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class CrossTaxonomyAttention(nn.Module):
    """One post-LN attention block over the head tokens, each token blind to itself."""

    def __init__(self, dim: int, heads: int, tokens: int, dropout: float):
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.norm2 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("blind", torch.eye(tokens, dtype=torch.bool), persistent=False)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # tokens (B, N, H) -> (B, N, H), attention weights (B, N, N)
        read, weights = self.attention(tokens, tokens, tokens, attn_mask=self.blind)
        x = self.norm1(tokens + self.dropout(read))
        return self.norm2(x + self.dropout(self.ffn(x))), weights


class MultitaskNet(nn.Module):
    def __init__(
        self,
        in_dim: int,
        hidden: int,
        token_dim: int,
        n_classes: int,
        level_sizes: Sequence[int],
        cvss_sizes: dict[str, int],
        n_capec: int,
        n_attack: int,
        cross_attention: bool,
        attention_heads: int,
        dropout: float,
    ):
        super().__init__()
        self.metrics = list(cvss_sizes)
        self.token_names = ["cwe", *self.metrics, "capec", "attack"]
        n_tokens = len(self.token_names)
        self.token_dim = token_dim
        self.trunk = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.GELU(), nn.LayerNorm(hidden)
        )
        self.views = nn.Linear(hidden, token_dim * n_tokens)  # one small view per head
        self.token_type = nn.Parameter(torch.randn(n_tokens, token_dim) * 0.02)
        self.view_norm = nn.LayerNorm(token_dim)
        self.cross = (
            CrossTaxonomyAttention(token_dim, attention_heads, n_tokens, dropout)
            if cross_attention
            else None
        )
        self.dropout = nn.Dropout(dropout)
        width = hidden + token_dim  # every head reads [shared trunk ; its own token]
        self.cwe_flat = nn.Linear(width, n_classes)
        self.cwe_levels = nn.ModuleList(nn.Linear(width, s) for s in level_sizes)
        self.cvss = nn.ModuleDict({m: nn.Linear(width, s) for m, s in cvss_sizes.items()})
        self.capec = nn.Linear(width, max(n_capec, 1))
        self.attack = nn.Linear(width, max(n_attack, 1))

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        z = self.trunk(x)  # (B, H)
        b = z.shape[0]
        tokens = self.views(z).view(b, len(self.token_names), self.token_dim)  # (B, N, K)
        tokens = self.view_norm(tokens + self.token_type)
        attention = None
        if self.cross is not None:
            tokens, attention = self.cross(tokens)
        zd = self.dropout(z)
        t = self.dropout(tokens)

        def head(i: int) -> torch.Tensor:  # (B, H + K)
            return torch.cat([zd, t[:, i]], dim=1)

        cwe = head(0)
        return {
            "cwe": self.cwe_flat(cwe),  # (B, n_classes)
            "levels": [layer(cwe) for layer in self.cwe_levels],  # [(B, size_ℓ)]
            "cvss": {m: self.cvss[m](head(1 + i)) for i, m in enumerate(self.metrics)},
            "capec": self.capec(head(len(self.token_names) - 2)),  # (B, n_capec)
            "attack": self.attack(head(len(self.token_names) - 1)),  # (B, n_attack)
            "attention": attention,  # (B, N, N) or None
        }
