"""Label spaces and training targets of every head, and the distilled soft targets.

* **CWE** — the first policy label of each example, mapped to its rolled-up class
  (:func:`vulntax.models.data.cwe_roll_up`), and that class's View-1000 path
  per level;
* **CVSS** — the value of each base metric (-1: no usable vector);
* **CAPEC / ATT&CK (hard)** — the catalog graph's links of the gold CWE class,
  and for ATT&CK the analysts' mappings of KEV CVEs (the dataset's
  ``attack_kev`` column; CTID's gold CVEs are never among the training rows);
* **distillation** (:func:`distilled`) — a teacher trained on the data-rich
  heads (CWE, CVSS) gives every training row soft targets: CAPEC and ATT&CK
  through the catalog graph, p(label) = Σ_c p(c) · link(c, label), and for the
  analysts' kind of ATT&CK techniques a small logistic model fitted on the KEV
  rows that reads only the teacher's CVSS and coarse CWE probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.models.multitask.hierarchy import Hierarchy


@dataclass
class Targets:
    cwe: np.ndarray  # (N,) class index or -1
    levels: np.ndarray  # (N, depth) column per level or -1
    cvss: np.ndarray  # (N, 8) value index or -1
    capec: np.ndarray  # (N, n_capec) float32 in [0, 1]
    capec_rows: np.ndarray  # (N,) bool: rows with a CAPEC target
    attack: np.ndarray  # (N, n_attack) float32
    attack_rows: np.ndarray  # (N,) bool
    kev_rows: np.ndarray  # (N,) bool: rows with analysts' ATT&CK labels

    def subset(self, rows: np.ndarray) -> Targets:
        return Targets(**{k: v[rows] for k, v in self.__dict__.items()})


def first_class(gold: list[str], classes: dict[str, str | None]) -> str | None:
    for label in gold:
        target = classes.get(label)
        if target is not None:
            return target
    return None


def cwe_number(cwe_id: str) -> int:
    return int(cwe_id.split("-")[1])


def technique_key(tid: str) -> tuple[int, int]:
    major, _, minor = tid[1:].partition(".")
    return int(major), int(minor or -1)


def kev_labels(dataset_path: str | None, ids: list[str], catalog: Any) -> list[list[str]]:
    """Analysts' ATT&CK techniques (resolved to the current catalog) of each id, from the
    ``attack_kev`` column of the dataset the examples came from ([] where none)."""
    from vulntax.dataset.store import load_dataset

    if not dataset_path or not Path(dataset_path).is_dir():
        return [[] for _ in ids]
    dataset = load_dataset(dataset_path)
    cols = dataset.columns(None, ["id", "attack_kev"])
    mapped = {i: t for i, t in zip(cols["id"], cols["attack_kev"], strict=True) if t}
    out = []
    for cve in ids:
        techniques = []
        for raw in mapped.get(cve, []):
            current = catalog.attack.resolve(raw) if raw in catalog.attack else None
            if current is not None:
                techniques.append(current)
        out.append(sorted(set(techniques), key=technique_key))
    return out


def link_matrix(classes: list[str], link: Any, labels: list[str]) -> np.ndarray:
    """(n_classes, n_labels) 0/1: the catalog's links of each class."""
    index = {t: j for j, t in enumerate(labels)}
    m = np.zeros((len(classes), len(labels)), dtype=np.float32)
    for i, c in enumerate(classes):
        for t in link(c):
            if t in index:
                m[i, index[t]] = 1.0
    return m


def hard_targets(
    examples: Any,
    classes: dict[str, str | None],
    hierarchy: Hierarchy,
    cvss_labels: dict[str, list[str]],
    capec_links: np.ndarray,
    attack_links: np.ndarray,
    attack_labels: list[str],
    kev: list[list[str]],
) -> Targets:
    n = len(examples)
    index = {c: i for i, c in enumerate(hierarchy.classes)}
    cwe = np.full(n, -1, dtype=np.int64)
    for row, gold in enumerate(examples.cwe_gold):
        c = first_class(gold, classes)
        if c is not None and c in index:
            cwe[row] = index[c]
    levels = np.full((n, hierarchy.depth), -1, dtype=np.int64)
    has = cwe >= 0
    levels[has] = hierarchy.targets[cwe[has]]
    cvss = np.full((n, len(cvss_labels)), -1, dtype=np.int64)
    for j, (metric, values) in enumerate(cvss_labels.items()):
        vindex = {v: k for k, v in enumerate(values)}
        for row, v in enumerate(examples.cvss[metric]):
            if v is not None and v in vindex:
                cvss[row, j] = vindex[v]
    capec = np.zeros((n, capec_links.shape[1]), dtype=np.float32)
    capec[has] = capec_links[cwe[has]]
    attack = np.zeros((n, attack_links.shape[1]), dtype=np.float32)
    attack[has] = attack_links[cwe[has]]
    aindex = {t: j for j, t in enumerate(attack_labels)}
    kev_rows = np.zeros(n, dtype=bool)
    for row, techniques in enumerate(kev):
        cols = [aindex[t] for t in techniques if t in aindex]
        if cols:
            kev_rows[row] = True
            attack[row, cols] = 1.0
    return Targets(cwe, levels, cvss, capec, has.copy(), attack, has | kev_rows, kev_rows)


def distilled(
    hard: Targets,
    teacher_cwe: np.ndarray,  # (N, n_classes) the teacher's softened class probabilities
    teacher_cvss: list[np.ndarray],  # per metric (N, n_values)
    teacher_levels: list[np.ndarray],  # per level (N, size_ℓ)
    capec_links: np.ndarray,
    attack_links: np.ndarray,
    use_kev: bool,
    seed: int,
    mix: float = 0.5,
) -> Targets:
    """Soft CAPEC / ATT&CK targets for every row, mixed with the hard ones where there are."""
    capec_soft = np.clip(teacher_cwe @ capec_links, 0.0, 1.0)
    attack_soft = np.clip(teacher_cwe @ attack_links, 0.0, 1.0)
    if use_kev and hard.kev_rows.any():
        features = np.concatenate([*teacher_cvss, *teacher_levels[:2]], axis=1)
        attack_soft = np.maximum(
            attack_soft, kev_teacher(features, hard.attack, hard.kev_rows, seed)
        )
    capec = np.where(
        hard.capec_rows[:, None], (1 - mix) * hard.capec + mix * capec_soft, capec_soft
    )
    attack = np.where(
        hard.attack_rows[:, None], (1 - mix) * hard.attack + mix * attack_soft, attack_soft
    )
    attack[hard.kev_rows] = hard.attack[hard.kev_rows]  # analysts' labels stay as they are
    everyone = np.ones(len(capec), dtype=bool)
    return Targets(
        hard.cwe,
        hard.levels,
        hard.cvss,
        capec.astype(np.float32),
        everyone,
        attack.astype(np.float32),
        everyone,
        hard.kev_rows,
    )


def kev_teacher(
    features: np.ndarray, labels: np.ndarray, rows: np.ndarray, seed: int, steps: int = 300
) -> np.ndarray:
    """A multi-label logistic model fitted on the KEV rows (features: the teacher's CVSS and
    coarse CWE probabilities), applied to every row. Columns no KEV row has stay 0."""
    import torch

    torch.manual_seed(seed)
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(labels[rows], dtype=torch.float32)
    seen = y.sum(0) > 0
    layer = torch.nn.Linear(x.shape[1], int(seen.sum()))
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.05, weight_decay=1e-3)
    xr = x[torch.as_tensor(rows)]
    for _ in range(steps):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(layer(xr), y[:, seen])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    out = np.zeros((len(features), labels.shape[1]), dtype=np.float32)
    with torch.no_grad():
        out[:, seen.numpy()] = torch.sigmoid(layer(x)).numpy()
    return out
