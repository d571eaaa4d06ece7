"""Optional heads a linear model directory may carry beside its own files.

* ``attack.safetensors`` / ``attack.json`` — the ATT&CK head learnt from the
  analysts' mappings (:mod:`.attack_learnt`); it replaces the model's older
  KEV-only mapper and its ATT&CK label list;
* ``capec_rank.safetensors`` / ``capec_rank.json`` — the CAPEC ranker
  (:mod:`.capec_rank`); it replaces p(link) from the catalog graph.

A directory without them loads as before; a damaged one is a ModelError. A model saved
after they were attached writes its own label lists (the ATT&CK list its tensors fit, not
the learnt head's) and copies the heads' files beside them, so the copy loads as the
original did.
They are written by ``bench/attack/fit.py`` (:func:`.extras_fit.fit_extras`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vulntax.models import attack_learnt, capec_rank
from vulntax.models.attack_mapper import labels_with_attack


def attach(model: Any, path: Path) -> None:
    """Load the extra heads of the model directory ``path`` into ``model`` (a LinearModel)."""
    labels = model.own_labels  # what its own tensors fit (saved with them)
    n_features = len(model.features.terms)
    n_cvss = sum(len(v) for v in labels.cvss.values())
    head = attack_learnt.load(path, n_features, n_cvss + len(labels.cwe))
    if head is not None:
        model.attack_head = head
        model.labels = labels_with_attack(labels, head.techniques)
    model.capec_ranker = capec_rank.load(path, len(labels.cwe), len(labels.capec), n_features)
    model.heads_from = path


def head_files(model: Any) -> list[str]:
    """The files of the heads attached to ``model`` (copied as they are when it is saved)."""
    files = []
    if model.attack_head is not None:
        files += [attack_learnt.ATTACK_WEIGHTS, attack_learnt.ATTACK_CONFIG]
    if model.capec_ranker is not None:
        files += [capec_rank.RANK_WEIGHTS, capec_rank.RANK_CONFIG]
    return files
