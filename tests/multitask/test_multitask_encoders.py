"""The encoders behind one interface, and the embedding cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vulntax.errors import ModelError
from vulntax.models.multitask import encoders as enc
from vulntax.models.multitask.cache import EmbeddingCache, cached_embeddings

TEXTS = [
    "A buffer overflow in the parser allows remote attackers to execute arbitrary code.",
    "Cross-site scripting in the admin page.",
    "Improper input validation.",
]


def test_scratch_encoder_interface_and_padding() -> None:
    tokenizer = enc.train_tokenizer(TEXTS * 20, 300)
    encoder = enc.scratch(tokenizer, dim=16, layers=1, heads=2, max_length=12, seed=0)
    encoder.eval()
    states, mask = encoder.encode(TEXTS)
    assert states.shape[0] == 3 and states.shape[2] == 16 and mask.shape == states.shape[:2]
    assert mask.sum(1).max() <= 12  # truncated to max_length
    with torch.inference_mode():
        alone = encoder.embed(TEXTS[1:2])
        batch = encoder.embed(TEXTS)
    torch.testing.assert_close(alone[0], batch[1], atol=1e-5, rtol=1e-5)  # padding is masked
    assert enc.embed_all(encoder, TEXTS).shape == (3, 16)


def test_scratch_embeddings_are_never_cached(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="frozen pretrained"):
        EmbeddingCache(tmp_path, "scratch")


def test_minilm_loads_offline_and_the_cache_returns_what_it_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip(enc.MINILM_PACKAGE, reason="MiniLM package not installed")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(2)
    encoder = enc.minilm(32)
    assert encoder.dim == 384 and encoder.fingerprint.startswith("minilm-")
    first = cached_embeddings(encoder, TEXTS, str(tmp_path), batch_size=2)
    assert first.shape == (3, 384)
    assert (np.linalg.norm(first, axis=1) > 0).all()
    shards = list((tmp_path / encoder.fingerprint).glob("shard-*.safetensors"))
    assert len(shards) == 1
    again = cached_embeddings(encoder, list(reversed(TEXTS)), str(tmp_path))
    np.testing.assert_array_equal(again, first[::-1])
    uncached = cached_embeddings(encoder, TEXTS, None)
    np.testing.assert_allclose(uncached, first, atol=1e-3)
    # similar texts are nearer than unrelated ones: the pretrained weights are in use
    a, b = cached_embeddings(encoder, ["SQL injection in login", "SQL injection in search"], None)
    c = first[0]

    def cos(x: np.ndarray, y: np.ndarray) -> float:
        return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))

    assert cos(a, b) > cos(a, c)
