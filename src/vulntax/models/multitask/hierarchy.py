"""The CWE classes' View-1000 hierarchy as levels, and decoding that respects it.

Every CWE class has one display path root … class (``CweCatalog.path``; each
node's path is its parent's path plus itself, so every node sits at one depth).
The union of the classes' paths is a tree; level ℓ holds the nodes of depth ℓ.
The model has one softmax per level over that level's nodes plus ``STOP``
(index 0: "the path ended above this level"). For a class c with path
n_0 … n_{d-1}, the level targets are n_0 … n_{d-1}, then STOP at every deeper level.

Decodings (numpy, for any batch of level probabilities):

* :func:`path_log_scores` — log P(c) = Σ_ℓ log P_ℓ(target_ℓ(c)): the score of
  each class's whole path; its argmax is always a valid path;
* :func:`top_down` — greedy: the best root, then the best child of the chosen
  node (or STOP), level by level; always a valid path;
* :func:`independent_argmax` — each level's argmax on its own, as a flat
  multi-level classifier would answer; :func:`violations` says how often that
  sequence is not a path (a node whose parent is not the node chosen above it,
  or a node below a STOP).

:class:`Hierarchy` is built from the catalog at training time and saved with the
model (``hierarchy.json``), so prediction needs no catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vulntax.errors import ModelError

STOP = 0


@dataclass
class Hierarchy:
    classes: list[str]  # the model's CWE classes, in output order
    levels: list[list[str]]  # level ℓ -> node ids (column j + 1 of level ℓ's softmax)
    parents: list[list[int]]  # level ℓ -> parent column (in level ℓ-1) of each node; [] for ℓ=0
    targets: np.ndarray  # (n_classes, n_levels) column of each class's path node per level

    @classmethod
    def build(cls, classes: Sequence[str], path: Any) -> Hierarchy:
        """``path(cwe_id) -> tuple`` is ``CweCatalog.path``; every class must have a path."""
        paths = []
        for c in classes:
            p = tuple(path(c))
            if not p or p[-1] != c:
                raise ModelError(f"CWE class {c} has no path in View 1000")
            paths.append(p)
        depth = max(len(p) for p in paths)
        levels: list[list[str]] = [[] for _ in range(depth)]
        seen: set[str] = set()
        for p in sorted(paths, key=lambda p: [_num(n) for n in p]):
            for level, node in enumerate(p):
                if node not in seen:
                    seen.add(node)
                    levels[level].append(node)
        column = [{n: j + 1 for j, n in enumerate(nodes)} for nodes in levels]
        parents: list[list[int]] = [[]]
        for level in range(1, depth):
            parent_of = {p[level]: p[level - 1] for p in paths if len(p) > level}
            parents.append([column[level - 1][parent_of[n]] for n in levels[level]])
        targets = np.zeros((len(paths), depth), dtype=np.int64)
        for i, p in enumerate(paths):
            for level, node in enumerate(p):
                targets[i, level] = column[level][node]
        return cls(list(classes), levels, parents, targets)

    @property
    def depth(self) -> int:
        return len(self.levels)

    def sizes(self) -> list[int]:
        """Width of each level's softmax (its nodes plus STOP)."""
        return [len(nodes) + 1 for nodes in self.levels]

    def to_dict(self) -> dict[str, Any]:
        return {"classes": self.classes, "levels": self.levels, "parents": self.parents}

    @classmethod
    def from_dict(cls, data: Any) -> Hierarchy:
        """Rebuild from :meth:`to_dict`; the class paths are re-derived from the levels."""
        try:
            classes, levels, parents = data["classes"], data["levels"], data["parents"]
            node_parent: dict[str, str | None] = {n: None for n in levels[0]}
            for level in range(1, len(levels)):
                for node, par in zip(levels[level], parents[level], strict=True):
                    node_parent[node] = levels[level - 1][par - 1]

            def path(node: str) -> tuple[str, ...]:
                chain = [node]
                while (up := node_parent[chain[-1]]) is not None:
                    chain.append(up)
                return tuple(reversed(chain))

            built = cls.build(classes, path)
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ModelError(f"hierarchy.json: malformed CWE hierarchy ({exc})") from exc
        if built.levels != levels or built.parents != parents:
            raise ModelError("hierarchy.json: the levels do not match the classes' paths")
        return built


def _num(cwe_id: str) -> int:
    return int(cwe_id.rsplit("-", 1)[-1])


# ---------------------------------------------------------------------- decoding
def path_log_scores(h: Hierarchy, level_log_probs: Sequence[np.ndarray]) -> np.ndarray:
    """(B, n_classes): Σ over levels of log P_ℓ(the class's node, or STOP below its depth)."""
    total = np.zeros((level_log_probs[0].shape[0], len(h.classes)), dtype=np.float32)
    for level, lp in enumerate(level_log_probs):
        total += lp[:, h.targets[:, level]]
    return total


def top_down(h: Hierarchy, level_probs: Sequence[np.ndarray]) -> np.ndarray:
    """(B, depth) columns chosen greedily from the root down (0 = STOP from there on)."""
    batch = level_probs[0].shape[0]
    chosen = np.zeros((batch, h.depth), dtype=np.int64)
    chosen[:, 0] = 1 + np.argmax(level_probs[0][:, 1:], axis=1)  # a path has a root
    for level in range(1, h.depth):
        parents = np.asarray([0, *h.parents[level]])  # column -> parent column (STOP -> 0)
        p = level_probs[level].copy()
        allowed = parents[None, :] == chosen[:, level - 1][:, None]  # children of the choice
        allowed[:, STOP] = True
        p[~allowed] = -1.0
        stopped = chosen[:, level - 1] == STOP
        chosen[:, level] = np.where(stopped, STOP, np.argmax(p, axis=1))
    return chosen


def independent_argmax(level_probs: Sequence[np.ndarray]) -> np.ndarray:
    """(B, depth) each level's own argmax."""
    return np.stack([np.argmax(p, axis=1) for p in level_probs], axis=1)


def violations(h: Hierarchy, chosen: np.ndarray) -> np.ndarray:
    """(B,) True where the chosen columns do not form one root-to-node path."""
    bad = chosen[:, 0] == STOP
    for level in range(1, h.depth):
        parents = np.asarray([0, *h.parents[level]])
        here, above = chosen[:, level], chosen[:, level - 1]
        node_here = here != STOP
        bad |= node_here & (above == STOP)  # a node below a STOP
        bad |= node_here & (parents[here] != above)  # a node under the wrong parent
    return bad


def chosen_class(h: Hierarchy, chosen: np.ndarray) -> np.ndarray:
    """(B,) the class index whose path equals the chosen columns, or -1 (an inner node
    that is not a class, or an invalid sequence)."""
    index = {tuple(row): i for i, row in enumerate(h.targets.tolist())}
    return np.asarray([index.get(tuple(row), -1) for row in chosen.tolist()], dtype=np.int64)


def marginal_violations(
    h: Hierarchy, level_probs: Sequence[np.ndarray], tolerance: float = 1e-3
) -> np.ndarray:
    """(B,) True where some node is more probable than its parent (beyond ``tolerance``)."""
    bad = np.zeros(level_probs[0].shape[0], dtype=bool)
    for level in range(1, h.depth):
        parents = np.asarray(h.parents[level])
        child = level_probs[level][:, 1:]  # (B, n_nodes)
        parent = level_probs[level - 1][:, parents]
        bad |= (child > parent + tolerance).any(axis=1)
    return bad
