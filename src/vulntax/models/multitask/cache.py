"""A disk cache of frozen-encoder embeddings, so that CPU experiments stay affordable.

MiniLM embeds ≈65–87 descriptions/s on two cores; a frozen encoder gives the
same vector for the same text every time, so each text is embedded once per
encoder and kept. The cache is a folder given by option (``embedding_cache``
in the config, or ``$VULNTAX_EMBEDDING_CACHE``), never inside the repository.
Its layout: one sub-folder per encoder fingerprint, holding shards
``shard-<time>-<pid>.safetensors`` of ``keys`` (uint64: the first 8 bytes of the
text's BLAKE2b digest) and ``vectors`` (float16). A shard is written every few
thousand new texts, so an interrupted run keeps what it computed.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import ModelError

ENV_VAR = "VULNTAX_EMBEDDING_CACHE"
SHARD_ROWS = 4096


def text_key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class EmbeddingCache:
    def __init__(self, root: str | Path, fingerprint: str):
        if not fingerprint or fingerprint == "scratch":
            raise ModelError("only a frozen pretrained encoder's embeddings can be cached")
        self.folder = Path(root) / fingerprint
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelError(f"{self.folder}: cannot create the embedding cache ({exc})") from exc
        self._keys = np.zeros(0, dtype=np.uint64)
        self._vectors: np.ndarray | None = None
        self._load()

    def _shards(self) -> list[Path]:
        return sorted(self.folder.glob("shard-*.safetensors"))

    def reload(self) -> None:
        self._keys, self._vectors = np.zeros(0, dtype=np.uint64), None
        self._load()

    def _load(self) -> None:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        keys, vectors = [], []
        for shard in self._shards():
            try:
                t = load_file(str(shard))
            except (SafetensorError, OSError, ValueError):
                continue  # a shard cut short by an interrupted run: its texts are embedded again
            keys.append(t["keys"])
            vectors.append(t["vectors"])
        if keys:
            k = np.concatenate(keys)
            v = np.concatenate(vectors)
            k, first = np.unique(k, return_index=True)  # sorted, duplicates dropped
            self._keys, self._vectors = k, v[first]

    def __len__(self) -> int:
        return len(self._keys)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found mask (N,), vectors (N, D) float32 where found)."""
        if self._vectors is None or not len(keys):
            return np.zeros(len(keys), dtype=bool), np.zeros((len(keys), 0), dtype=np.float32)
        pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        found = self._keys[pos] == keys
        return found, self._vectors[pos].astype(np.float32)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        from safetensors.numpy import save_file

        if not len(keys):
            return
        # unique names: several processes may fill one cache at once
        target = self.folder / f"shard-{time.time_ns()}-{os.getpid()}.safetensors"
        tmp = target.with_suffix(".tmp")
        save_file({"keys": keys.astype(np.uint64), "vectors": vectors.astype(np.float16)}, str(tmp))
        os.replace(tmp, target)
        merged_keys = np.concatenate([self._keys, keys.astype(np.uint64)])
        new = vectors.astype(np.float16)
        merged = new if self._vectors is None else np.concatenate([self._vectors, new])
        merged_keys, first = np.unique(merged_keys, return_index=True)
        self._keys, self._vectors = merged_keys, merged[first]


_OPEN: dict[tuple[str, str], EmbeddingCache] = {}


def _open(root: str, fingerprint: str) -> EmbeddingCache:
    """One cache object per folder and process (its shards are read once)."""
    key = (str(Path(root).resolve()), fingerprint)
    if key not in _OPEN:
        _OPEN[key] = EmbeddingCache(root, fingerprint)
    return _OPEN[key]


def cache_root(configured: str | None) -> str | None:
    """The cache folder: ``$VULNTAX_EMBEDDING_CACHE`` if set, else the config's, else None."""
    return os.environ.get(ENV_VAR) or configured or None


def cached_embeddings(
    encoder: Any, texts: Sequence[str], root: str | None, log: Any = None, batch_size: int = 64
) -> np.ndarray:
    """(N, D) float32 embeddings of ``texts``; with a cache folder, each text is embedded once.

    Cached vectors are float16; a text computed now is rounded the same way, so a
    text gets the same vector whether or not it was cached before.
    """
    from vulntax.models.multitask.encoders import embed_all

    if root is None:
        return embed_all(encoder, texts, batch_size, log).astype(np.float16).astype(np.float32)
    cache = _open(root, encoder.fingerprint)
    keys = np.array([text_key(t) for t in texts], dtype=np.uint64)
    found, vectors = cache.lookup(keys)
    if not found.all():  # another process may have added shards since they were read
        cache.reload()
        found, vectors = cache.lookup(keys)
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    if found.any():
        out[found] = vectors[found]
    todo = np.flatnonzero(~found)
    # distinct missing texts, computed in chunks that are saved as they finish
    _, first = np.unique(keys[todo], return_index=True)
    pending = todo[first]
    if len(pending) and log is not None:
        log(f"embedding {len(pending):,} texts ({len(texts) - len(todo):,} cached)")
    for start in range(0, len(pending), SHARD_ROWS):
        rows = pending[start : start + SHARD_ROWS]
        vec = embed_all(encoder, [texts[i] for i in rows], batch_size)
        cache.add(keys[rows], vec)
        if log is not None and len(pending) > SHARD_ROWS:
            log(f"  embedded {min(start + SHARD_ROWS, len(pending)):,}/{len(pending):,}")
    if len(todo):
        found, vectors = cache.lookup(keys[todo])
        out[todo] = vectors
    return out
