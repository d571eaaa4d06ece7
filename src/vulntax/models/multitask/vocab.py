"""Trimming an encoder's vocabulary to the word pieces a corpus uses.

MiniLM's 30,522-piece table is half its weights (11.7 M of 22.7 M parameters).
Vulnerability descriptions use about two thirds of it, so keeping only the pieces
that occur in the training (and evaluation) texts shrinks what a GPU job carries
and what the fine-tuned model ships, without changing how those texts tokenise:
WordPiece picks the longest piece in the vocabulary, and every piece it picked
is kept (a test checks that the ids map one to one). A new text with a piece
that was dropped falls back to shorter pieces, or ``[UNK]``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from vulntax.errors import ModelError
from vulntax.models.multitask.encoders import TextEncoder

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def used_pieces(encoder: TextEncoder, texts: Sequence[str]) -> np.ndarray:
    """Sorted ids of the pieces ``texts`` tokenise into, plus the special tokens."""
    seen = np.zeros(encoder.tokenizer.get_vocab_size(), dtype=bool)
    for start in range(0, len(texts), 4096):
        for e in encoder.tokenizer.encode_batch(list(texts[start : start + 4096])):
            seen[e.ids] = True
    for token in SPECIALS:
        tid = encoder.tokenizer.token_to_id(token)
        if tid is None:
            raise ModelError(f"the tokenizer has no {token} token")
        seen[tid] = True
    return np.flatnonzero(seen)


def trim(encoder: TextEncoder, keep: np.ndarray) -> TextEncoder:
    """A copy of ``encoder`` whose tokenizer and word-embedding table hold only ``keep``
    (old ids, sorted; ``[PAD]`` must be id 0 and kept)."""
    from tokenizers import Tokenizer

    keep = np.asarray(keep, dtype=np.int64)
    if len(keep) == 0 or keep[0] != 0 or np.any(np.diff(keep) <= 0):
        raise ValueError("keep must be sorted, unique and start with [PAD] (id 0)")
    new_id = {int(old): new for new, old in enumerate(keep)}
    spec = json.loads(encoder.tokenizer.to_str())
    vocab = spec["model"]["vocab"]
    spec["model"]["vocab"] = {t: new_id[i] for t, i in vocab.items() if i in new_id}
    for added in spec.get("added_tokens") or []:
        if added["id"] not in new_id:
            raise ModelError(f"the added token {added['content']!r} is not kept")
        added["id"] = new_id[added["id"]]
    _remap_post_processor(spec.get("post_processor"), new_id)
    tokenizer = Tokenizer.from_str(json.dumps(spec))
    state = {k: v.detach().clone() for k, v in encoder.stack.state_dict().items()}
    key = "embeddings.word_embeddings.weight"
    state[key] = state[key][torch.as_tensor(keep)]
    from vulntax.models.multitask.encoders import bert_encoder

    dims = {
        "hidden_size": encoder.dim,
        "num_hidden_layers": len(encoder.stack.encoder.layer),  # type: ignore[arg-type]
        "num_attention_heads": encoder.stack.heads,
        "intermediate_size": int(state["encoder.layer.0.intermediate.dense.weight"].shape[0]),
        "max_position_embeddings": int(state["embeddings.position_embeddings.weight"].shape[0]),
    }
    trimmed = bert_encoder(encoder.name, tokenizer, dims, state, encoder.max_length, "trim")
    trimmed.fingerprint = f"{encoder.fingerprint}-trimmed{len(keep)}"
    return trimmed


def _remap_post_processor(node: Any, new_id: dict[int, int]) -> None:
    """BERT's template post-processor names [CLS] / [SEP] by id: renumber them."""
    if isinstance(node, dict):
        if node.get("type") == "TemplateProcessing":
            for special in node.get("special_tokens", {}).values():
                special["ids"] = [new_id[i] for i in special["ids"]]
        elif node.get("type") == "BertProcessing":
            for name in ("sep", "cls"):
                token, tid = node[name]
                node[name] = [token, new_id[tid]]
        for child in node.get("processors", []) or []:
            _remap_post_processor(child, new_id)
