"""Domain pre-training (MLM + CWE pillar) of a trainable encoder on real descriptions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from vulntax.dataset.store import load_dataset
from vulntax.models.multitask import encoders as enc
from vulntax.models.multitask.pretraining import (
    _PretrainHeads,
    mask_tokens,
    pretrain,
    warmup_cosine,
)

SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _encoder(mini_dataset: Path) -> tuple[enc.TextEncoder, list[str]]:
    texts = load_dataset(mini_dataset).columns("train", ["description"])["description"][:200]
    torch.manual_seed(0)
    encoder = enc.scratch(
        enc.train_tokenizer(texts, 500), dim=32, layers=1, heads=2, max_length=48, seed=0
    )
    return encoder, texts


def test_only_the_masked_positions_are_decoded(mini_dataset: Path) -> None:
    encoder, texts = _encoder(mini_dataset)
    heads = _PretrainHeads(encoder, 4).eval()
    tok = encoder.tokenizer
    special = [tok.token_to_id(t) for t in SPECIAL]
    ids, mask = encoder.tokenize(texts[:6])
    generator = torch.Generator().manual_seed(1)
    corrupted, targets = mask_tokens(
        ids, mask, special, special[4], tok.get_vocab_size(), 0.15, generator
    )
    chosen = targets >= 0
    assert 0 < int(chosen.sum()) < int(mask.sum())  # some, not all, real tokens
    assert not bool((chosen & ~mask.bool()).any())  # never padding
    with torch.inference_mode():
        logits, categories = heads(corrupted, mask, chosen)
        states = encoder.stack(corrupted, mask)
        words = encoder.stack.embeddings.word_embeddings.weight
        full = heads.transform(states) @ words.T + heads.bias  # every position, as before
    assert logits.shape == (int(chosen.sum()), tok.get_vocab_size()) and categories.shape[0] == 6
    torch.testing.assert_close(logits, full[chosen], atol=1e-5, rtol=1e-5)
    # the loss equals the all-position loss with -100 where nothing is predicted
    loss = F.cross_entropy(logits, targets[chosen])
    reference = F.cross_entropy(
        full.reshape(-1, full.shape[-1]), targets.reshape(-1), ignore_index=-100
    )
    torch.testing.assert_close(loss, reference)


def test_pretraining_lowers_the_loss_on_real_descriptions(mini_dataset: Path) -> None:
    encoder, texts = _encoder(mini_dataset)
    pillars = np.arange(len(texts)) % 3 - 1  # -1: no known CWE for a third of the texts
    lines: list[str] = []
    losses = pretrain(encoder, texts, pillars, 2, 60, 16, 3e-3, 0.15, 0.1, 0, lines.append)
    assert len(losses) == 60 and all(np.isfinite(losses))
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.5
    assert len(lines) == 5 and lines[-1].startswith("  pre-training step 60/60")


def test_the_schedule_warms_up_then_decays_for_any_step_count() -> None:
    for steps in (1, 2, 3, 10, 11, 1000):  # OneCycleLR divided by zero at 10
        factors = [warmup_cosine(s, steps) for s in range(steps)]
        peak = int(np.argmax(factors))
        assert factors[peak] == 1.0 and all(0 < f <= 1 for f in factors)
        assert factors[: peak + 1] == sorted(factors[: peak + 1])
        assert factors[peak:] == sorted(factors[peak:], reverse=True)
