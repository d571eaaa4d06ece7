"""Gold labels to evaluate against: a split of a built dataset, or any input file.

Both give a :class:`Gold`: one entry per record, in the order predictions are
made. From a dataset the labels are its own columns; from a file every record
is labelled by the dataset builder's own code (:func:`vulntax.dataset.build`'s
labelling step: the label policy's ``choose_cwe`` / ``choose_cvss`` and the
catalog graph for CAPEC / ATT&CK), so a file and a dataset built from it give
the same gold labels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from vulntax.dataset.split import SPLITS
from vulntax.dataset.store import CVSS_COLUMNS, Dataset
from vulntax.errors import DatasetError, InputError
from vulntax.records import IngestReport

#: the dataset columns a Gold is made of
COLUMNS = (
    "id",
    "description",
    "cwe",
    "cwe_source",
    "cvss_vector",
    "cvss_source",
    *CVSS_COLUMNS,
    "capec_derived",
    "attack_derived",
    "attack_kev",
    "attack_ctid",
)


@dataclass
class Gold:
    """Gold labels of N records (every list has N entries; empty / None = no label)."""

    ids: list[str]
    texts: list[str]  # the descriptions, as they are (the predictor normalises them)
    cwe: list[list[str]]  # policy-mapped CWE ids, primary first
    cwe_source: list[str | None]  # nvd / cna / adp
    cvss_vector: list[str | None]  # a v3.0 or v3.1 vector
    cvss_source: list[str | None]  # nvd / cna / adp
    cvss: dict[str, list[str | None]]  # metric -> value of the vector
    capec: list[list[str]]  # derived from the CWEs through the catalog graph
    attack: list[list[str]]  # derived likewise
    attack_kev: list[list[str]]  # CISA KEV analysts' mappings (CTID Mappings Explorer)
    attack_ctid: list[list[str]]  # CTID's "ATT&CK to CVE" analysts' mappings

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_columns(cls, cols: dict[str, list[Any]]) -> Gold:
        return cls(
            ids=list(cols["id"]),
            texts=list(cols["description"]),
            cwe=[list(c or []) for c in cols["cwe"]],
            cwe_source=list(cols["cwe_source"]),
            cvss_vector=list(cols["cvss_vector"]),
            cvss_source=list(cols["cvss_source"]),
            cvss={m: list(cols[m]) for m in CVSS_COLUMNS},
            capec=[list(c or []) for c in cols["capec_derived"]],
            attack=[list(c or []) for c in cols["attack_derived"]],
            attack_kev=[list(c or []) for c in cols["attack_kev"]],
            attack_ctid=[list(c or []) for c in cols["attack_ctid"]],
        )

    def subset(self, rows: Sequence[int]) -> Gold:
        """The records at ``rows``, in that order."""
        values: dict[str, Any] = {}
        for f in fields(self):
            column = getattr(self, f.name)
            if isinstance(column, dict):
                values[f.name] = {k: [v[i] for i in rows] for k, v in column.items()}
            else:
                values[f.name] = [column[i] for i in rows]
        return Gold(**values)

    def counts(self) -> dict[str, int]:
        """How many records carry each kind of gold label."""
        return {
            "records": len(self),
            "cwe": sum(1 for c in self.cwe if c),
            "cvss": sum(1 for v in self.cvss_vector if v),
            "capec": sum(1 for c in self.capec if c),
            "attack": sum(1 for c in self.attack if c),
            "attack_kev": sum(1 for c in self.attack_kev if c),
            "attack_ctid": sum(1 for c in self.attack_ctid if c),
        }


def check_split(dataset: Dataset, split: str) -> None:
    """A DatasetError unless ``split`` is a split name the dataset has examples in."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}: choose from {', '.join(SPLITS)}")
    if dataset.count(split) == 0:
        present = [s for s in SPLITS if dataset.count(s)]
        raise DatasetError(
            f"{dataset.path}: the dataset has no {split!r} examples "
            f"(it has: {', '.join(present) or 'none'})"
        )


def from_dataset(dataset: Dataset, split: str) -> Gold:
    """The gold labels of one split of a built dataset, in the dataset's order."""
    check_split(dataset, split)
    return Gold.from_columns(dataset.columns(split, COLUMNS))


def ctid_from_dataset(dataset: Dataset) -> Gold:
    """Every example of the dataset, in any split, that CTID analysts mapped to ATT&CK.

    These CVEs are kept out of training (:mod:`vulntax.models.data`), so they are a
    held-out set whatever their publication date.
    """
    cols = dataset.columns(list(SPLITS), COLUMNS)
    rows = [i for i, techniques in enumerate(cols["attack_ctid"]) if techniques]
    return Gold.from_columns({k: [v[i] for i in rows] for k, v in cols.items()})


def from_file(
    path: str | Path, catalog: Any, data_dir: str | Path | None = None
) -> tuple[Gold, IngestReport]:
    """Gold labels of every readable record of an NVD / CVE JSON 5 file (or folder).

    Labels are made by the dataset builder's labelling step with the default
    label policy and ``catalog``; the analysts' ATT&CK mappings are attached where
    ``data_dir`` (else ``$VULNTAX_DATA_DIR``) holds ``attack_gold/``. Unreadable
    records are counted in the returned report. An InputError if no record has
    any gold label at all.
    """
    from vulntax.dataset.build import label_record
    from vulntax.dataset.policy import LabelPolicy
    from vulntax.ingest import read_records

    ctid, kev = _gold_sets(data_dir)
    policy = LabelPolicy()
    report = IngestReport()
    rows: list[dict[str, Any]] = []
    rules: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for record in read_records([path], report):
        rows.append(label_record(record, policy, catalog, ctid, kev, rules, counts).row)

    if not rows:
        raise InputError(f"no readable records ({report.skipped:,} could not be read)", path)
    gold = Gold.from_columns({c: [r[c] for r in rows] for c in COLUMNS})
    labelled = gold.counts()
    if not any(v for k, v in labelled.items() if k != "records"):
        raise InputError(
            f"none of its {len(gold):,} records has a gold label to evaluate against "
            "(no usable CWE, CVSS v3 vector or ATT&CK mapping); evaluation needs "
            "NVD or CVE JSON 5 records with labels",
            path,
        )
    return gold, report


def _gold_sets(data_dir: str | Path | None) -> tuple[Any, Any]:
    """The CTID and KEV analysts' mappings of the data directory, or empty sets."""
    import os

    from vulntax import datadir
    from vulntax.dataset import attack_gold

    chosen = data_dir or os.environ.get(datadir.ENV_VAR)
    folder = Path(chosen) / datadir.ATTACK_GOLD_DIR if chosen else None
    if folder is None or not folder.is_dir():
        return attack_gold.GoldSet("ctid"), attack_gold.GoldSet("kev")
    return attack_gold.read_ctid(folder), attack_gold.read_kev(folder)
