"""Collapse exact and near-duplicate descriptions.

Three passes, each joining records into groups (union-find):

1. **exact**: the same text up to case and spacing (:func:`vulntax.text.exact_key`);
2. **numbers**: the same words once numbers and punctuation are masked
   (:func:`vulntax.text.near_key`), e.g. the same advisory for version 1.2 and 1.3;
3. **near**: word 3-shingle Jaccard similarity ≥ ``threshold`` (0.9), estimated
   with MinHash (128 hash functions) and found with locality-sensitive hashing
   (16 bands of 8 rows). Within an LSH bucket each record is compared with the
   bucket's earliest record and with its predecessor, so that a bucket of
   thousands of templated texts costs linear, not quadratic, time; a pair
   the bucket walk skips can still join through a shared neighbour.

Each group keeps one representative: the member that comes first in the given
order (the dataset passes earliest-published first), so a description seen in
training never reappears, reworded by a version number, in the test split.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from vulntax.text import exact_key, near_key

SHINGLE = 3
NUM_PERM = 128
BANDS = 16
ROWS = NUM_PERM // BANDS
DEFAULT_THRESHOLD = 0.9


@dataclass(frozen=True)
class DedupResult:
    representative: np.ndarray  # (n,) index of each record's group representative
    exact: int  # records joined by pass 1
    numbers: int  # further records joined by pass 2
    near: int  # further records joined by pass 3

    @property
    def kept(self) -> int:
        return int(np.sum(self.representative == np.arange(len(self.representative))))


class _UnionFind:
    def __init__(self, n: int, rank: np.ndarray):
        self.parent = np.arange(n)
        self.rank = rank  # lower rank = preferred representative

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return int(root)

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self.rank[rb] < self.rank[ra]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        return True

    def groups_joined(self) -> int:
        return int(np.sum(self.parent != np.arange(len(self.parent))))


def find_duplicates(
    texts: Sequence[str],
    order: Sequence[int] | np.ndarray | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    seed: int = 0,
) -> DedupResult:
    """Group duplicate texts; ``order[i]`` ranks record i (lowest becomes representative)."""
    n = len(texts)
    rank = np.arange(n) if order is None else np.asarray(order)
    uf = _UnionFind(n, rank)

    _join_by_key(uf, [exact_key(t) for t in texts])
    after_exact = uf.groups_joined()
    near_keys = [near_key(t) for t in texts]
    _join_by_key(uf, near_keys)
    after_numbers = uf.groups_joined()
    if n > 1:
        signatures = _minhash(near_keys, seed)
        _join_by_lsh(uf, signatures, rank, threshold)
    after_near = uf.groups_joined()

    representative = np.array([uf.find(i) for i in range(n)], dtype=np.int64)
    return DedupResult(
        representative=representative,
        exact=after_exact,
        numbers=after_numbers - after_exact,
        near=after_near - after_numbers,
    )


def _join_by_key(uf: _UnionFind, keys: list[str]) -> None:
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        j = first.setdefault(key, i)
        if j != i:
            uf.union(j, i)


def _minhash(near_keys: list[str], seed: int) -> np.ndarray:
    """(n, NUM_PERM) uint32 MinHash signatures of the word 3-shingles of each text."""
    # near keys are single-space separated; an empty key counts as one (empty) word
    words = " ".join(near_keys).split(" ") if all(near_keys) else _words_of(near_keys)
    lengths = np.fromiter(
        (k.count(" ") + 1 for k in near_keys), dtype=np.int64, count=len(near_keys)
    )
    # word ids in first-seen order: deterministic across runs, unlike hash()
    word_id: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    flat = np.fromiter(map(word_id.__getitem__, words), dtype=np.uint64, count=len(words))
    starts = np.cumsum(lengths) - lengths

    # shingle j of a text combines its words j .. j+k-1, k = min(SHINGLE, text length)
    k = np.minimum(lengths, SHINGLE)
    counts = lengths - k + 1  # >= 1 shingle per text
    shingle_starts = np.cumsum(counts) - counts
    j = np.arange(counts.sum()) - np.repeat(shingle_starts, counts)
    pos = np.repeat(starts, counts) + j
    width = np.repeat(k, counts)
    shingles = flat[pos]
    with np.errstate(over="ignore"):
        for offset in range(1, SHINGLE):
            nxt = flat[np.minimum(pos + offset, len(flat) - 1)]
            shingles = np.where(width > offset, shingles * np.uint64(1_000_003) + nxt, shingles)

        rng = np.random.default_rng(seed)
        a = rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)
        b = rng.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
        signatures = np.empty((len(near_keys), NUM_PERM), dtype=np.uint32)
        for p in range(NUM_PERM):
            hashed = ((shingles * a[p] + b[p]) >> np.uint64(32)).astype(np.uint32)
            signatures[:, p] = np.minimum.reduceat(hashed, shingle_starts)
    return signatures


def _words_of(near_keys: list[str]) -> list[str]:
    return [w for key in near_keys for w in (key.split(" ") if key else [""])]


def _join_by_lsh(
    uf: _UnionFind, signatures: np.ndarray, rank: np.ndarray, threshold: float
) -> None:
    n = len(signatures)
    needed = int(np.ceil(threshold * NUM_PERM))  # equal MinHash values for "similar"
    mix = np.random.default_rng(1).integers(1, 2**63, size=ROWS, dtype=np.uint64) | np.uint64(1)
    for band in range(BANDS):
        rows = signatures[:, band * ROWS : (band + 1) * ROWS].astype(np.uint64)
        with np.errstate(over="ignore"):
            keys = (rows * mix).sum(axis=1)  # one 64-bit key per text and band
        order = np.lexsort((rank, keys))  # bucket by key, earliest first inside a bucket
        sorted_keys = keys[order]
        boundaries = np.flatnonzero(np.diff(sorted_keys)) + 1
        bucket_starts = np.concatenate([[0], boundaries])
        bucket_ends = np.concatenate([boundaries, [n]])
        for lo, hi in zip(bucket_starts, bucket_ends, strict=True):
            if hi - lo < 2:
                continue
            members = order[lo:hi]
            head = members[0]
            for prev, cur in pairwise(members):
                for other in (head, prev) if prev != head else (head,):
                    if uf.find(int(other)) == uf.find(int(cur)):
                        break
                    if np.count_nonzero(signatures[other] == signatures[cur]) >= needed:
                        uf.union(int(other), int(cur))
                        break
