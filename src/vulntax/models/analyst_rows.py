"""The CVEs analysts mapped to ATT&CK, as rows to learn from and to evaluate on.

Rows come from a built dataset, which has already merged exact and
near-duplicate descriptions into one row (:mod:`vulntax.dataset.dedup`) and
joined their analysts' mappings: every row with a CTID (``attack_ctid``) or a
KEV (``attack_kev``) mapping is one analyst row. For cross-validation the rows
are grouped once more, at a looser near-duplicate threshold, so that templated
advisories (the same product, another version) never straddle folds.

The mapping *type* (exploitation technique, primary impact, secondary impact,
uncategorized) is not a dataset column; it is read back from the gold files
for the row's own CVE id (a row whose representative CVE is not itself in the
gold sets has no typed mappings).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = ("id", "description", "published", "split", "cwe", "attack_ctid", "attack_kev")
GROUP_THRESHOLD = 0.7  # word 3-shingle Jaccard at which two analyst rows share a CV group


@dataclass
class AnalystRows:
    ids: list[str]
    texts: list[str]
    published: list[Any]  # datetime or None
    split: list[str]
    cwe: list[list[str]]  # policy-mapped gold CWE ids
    ctid: list[list[str]]  # current technique ids
    kev: list[list[str]]
    types: list[dict[str, list[str]]]  # mapping type -> current ids, for the row's own CVE

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def gold(self) -> list[list[str]]:
        """Every analyst technique of a row (CTID first, then KEV)."""
        return [list(dict.fromkeys([*c, *k])) for c, k in zip(self.ctid, self.kev, strict=True)]

    def groups(self, threshold: float = GROUP_THRESHOLD) -> np.ndarray:
        """(N,) group number of each row: near-duplicate texts share one."""
        from vulntax.dataset.dedup import find_duplicates

        return find_duplicates(self.texts, threshold=threshold).representative


def analyst_rows(dataset: Any, catalog: Any, gold_dir: Path | None) -> AnalystRows:
    """The dataset's rows with analysts' mappings, in the dataset's order."""
    from vulntax.dataset import attack_gold

    cols = dataset.columns(None, COLUMNS)
    keep = [
        i
        for i, (c, k) in enumerate(zip(cols["attack_ctid"], cols["attack_kev"], strict=True))
        if c or k
    ]
    typed: dict[str, dict[str, list[str]]] = {}
    if gold_dir is not None and gold_dir.is_dir():
        for gold in (attack_gold.read_kev(gold_dir), attack_gold.read_ctid(gold_dir)):
            for cve, kinds in gold.mappings.items():
                entry = typed.setdefault(cve, {})
                for kind, ids in kinds.items():
                    current = [t for t in (_resolve(catalog, i) for i in ids) if t]
                    entry[kind] = list(dict.fromkeys([*entry.get(kind, []), *current]))
    return AnalystRows(
        ids=[cols["id"][i] for i in keep],
        texts=[cols["description"][i] for i in keep],
        published=[cols["published"][i] for i in keep],
        split=[cols["split"][i] for i in keep],
        cwe=[list(cols["cwe"][i] or []) for i in keep],
        ctid=[list(cols["attack_ctid"][i] or []) for i in keep],
        kev=[list(cols["attack_kev"][i] or []) for i in keep],
        types=[typed.get(cols["id"][i], {}) for i in keep],
    )


def model_inputs(model: Any, texts: list[str]) -> tuple[Any, np.ndarray, np.ndarray]:
    """A linear model's TF-IDF rows (B, F), CVSS block (B, 22) and CWE distribution (B, C)."""
    from vulntax.models.attack_learnt import cvss_block
    from vulntax.text import model_input

    x = model.features.transform([model_input(t) for t in texts])
    cwe, cvss = model._probabilities(x)
    return x, cvss_block(cvss), cwe


def gold_cwe(
    rows: AnalystRows, cwe_labels: list[str], predicted: np.ndarray, catalog: Any
) -> np.ndarray:
    """The CWE block with the gold class one-hot (teacher forcing).

    The gold CWE counts as its nearest View-1000 ancestor among the model's
    classes; rows whose gold CWE reaches no class keep the predicted distribution.
    """
    index = {c: j for j, c in enumerate(cwe_labels)}
    out = predicted.copy()
    for r, labels in enumerate(rows.cwe):
        hits = []
        for c in labels:
            line = catalog.cwe.path(c) if c in catalog.cwe else (c,)
            hits += [index[a] for a in reversed(line) if a in index][:1]
        if hits:
            out[r] = 0.0
            out[r, hits[0]] = 1.0
    return out


def _resolve(catalog: Any, technique: str) -> str | None:
    from vulntax.errors import UnknownIdError

    try:
        current: str | None = catalog.attack.resolve(technique)
    except UnknownIdError:
        return None
    return current
