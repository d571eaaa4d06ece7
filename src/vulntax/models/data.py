"""Training examples for every model kind, selected from a built dataset.

Shared choices, all in :class:`DataConfig` and saved with the model:

* which splits to fit on, and which held-out split to calibrate on;
* **recency windows** per head, counted back from the newest training example:
  NVD's CWE practice keeps moving (CWE-119 → CWE-787, CWE-200 → CWE-668/863, …),
  so the CWE head learns from the last ``cwe_window_years`` only. On validation,
  strict top-1 was 0.667 with 2016–2021 and 0.697–0.70 with the last 1–1.5 years
  (protocol 1); on the newer protocol 2, 1 year gave 0.670, 1.5 years 0.661 and
  2.5 years 0.654, so the default is 1 year. CVSS practice is stable and more data
  helps (all v3 vectors: 0.892 mean accuracy against 0.886 for the last 1.5 years);
* ``refit_splits``: after calibration and held-out measurement, fit again on
  these (newer) splits with the same settings — how the shipped model is made;
* whose labels to learn: CWE from any source, CVSS from NVD analysts only by
  default (CNAs score differently, see docs/dataset.md);
* **rare CWEs roll up** (:func:`cwe_roll_up`): a CWE with fewer than
  ``cwe_min_count`` examples gives them to its nearest Allowed ancestor in
  View 1000 (else its parent), so they are learnt at a coarser level instead
  of vanishing;
* CVEs of the analysts' ATT&CK gold set (``attack_ctid``) are never trained on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vulntax.dataset.store import CVSS_COLUMNS, Dataset
from vulntax.errors import ConfigError, DatasetError
from vulntax.text import model_input

ALLOWED_USAGE = ("Allowed", "Allowed-with-Review")


@dataclass
class DataConfig:
    train_splits: list[str] = field(default_factory=lambda: ["train"])
    calibration_split: str = "validation"
    refit_splits: list[str] = field(default_factory=list)
    cwe_window_years: float | None = 1.0

    cvss_window_years: float | None = None
    cwe_min_count: int = 5
    cwe_sources: list[str] = field(default_factory=lambda: ["nvd", "cna", "adp"])
    cvss_sources: list[str] = field(default_factory=lambda: ["nvd"])
    max_examples: int | None = None  # keep only the newest N training examples (tiny test runs)

    def __post_init__(self) -> None:
        from vulntax.dataset.split import SPLITS

        for name in (*self.train_splits, self.calibration_split, *self.refit_splits):
            if name not in SPLITS:
                raise ConfigError(f"data: unknown split {name!r} (splits: {', '.join(SPLITS)})")
        if not self.train_splits:
            raise ConfigError("data.train_splits must name at least one split")
        for name in ("cwe_window_years", "cvss_window_years"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"data.{name} must be positive (or left out for no window)")
        if self.cwe_min_count < 1:
            raise ConfigError("data.cwe_min_count must be at least 1")
        if self.calibration_split in self.train_splits:
            raise ConfigError("data.calibration_split must not be one of data.train_splits")
        if self.max_examples is not None and self.max_examples < 10:
            raise ConfigError("data.max_examples must be at least 10")


@dataclass
class Examples:
    ids: list[str]
    texts: list[str]  # model inputs (ids stripped)
    cwe_gold: list[list[str]]  # policy-mapped CWE labels (all of them)
    cwe_source: list[str | None]
    cvss: dict[str, list[str | None]]  # metric -> value, None where no usable vector
    cvss_source: list[str | None]
    attack_kev: list[list[str]]  # analysts' ATT&CK mappings (KEV set), where there are any

    def __len__(self) -> int:
        return len(self.ids)


_COLUMNS = [
    "id",
    "published",
    "description",
    "cwe",
    "cwe_source",
    "cvss_source",
    *CVSS_COLUMNS,
    "attack_ctid",
    "attack_kev",
]


def load_examples(
    dataset: Dataset,
    splits: Sequence[str],
    config: DataConfig,
    training: bool,
    sources: bool | None = None,
) -> Examples:
    """Examples of ``splits``.

    With ``training`` the recency windows, size limit and gold-set filter apply;
    with ``sources`` (default: as ``training``) labels from sources the config does
    not learn from are blanked, e.g. for the calibration split.
    """
    sources = training if sources is None else sources
    cols = dataset.columns(list(splits), _COLUMNS)
    dated = [p for p in cols["published"] if p is not None]
    newest = max(dated) if dated else None
    cwe_since = _window_start(newest, config.cwe_window_years) if training else None
    cvss_since = _window_start(newest, config.cvss_window_years) if training else None
    floor = min(filter(None, (cwe_since, cvss_since)), default=None)
    if cwe_since is None or cvss_since is None:
        floor = None  # one head has no window: every dated example may serve
    keep: list[int] = []
    for i, published in enumerate(cols["published"]):
        if training and cols["attack_ctid"][i]:
            continue  # the ATT&CK gold set is kept out of training
        if training and published is None:
            continue
        if floor is not None and published < floor:
            continue
        keep.append(i)
    if training and config.max_examples is not None:
        keep = keep[-config.max_examples :]  # rows are sorted by date: keep the newest
    if training and not keep:
        raise DatasetError(f"no training examples in split(s) {', '.join(splits)}")

    def take(name: str) -> list[Any]:
        column = cols[name]
        return [column[i] for i in keep]

    cwe_source = take("cwe_source")
    cwe_gold = take("cwe")
    cvss_source = take("cvss_source")
    cvss = {m: take(m) for m in CVSS_COLUMNS}
    published = take("published")
    if sources:
        cwe_gold = [
            g if s in config.cwe_sources and _within(p, cwe_since) else []
            for g, s, p in zip(cwe_gold, cwe_source, published, strict=True)
        ]
        ok = [
            s in config.cvss_sources and _within(p, cvss_since)
            for s, p in zip(cvss_source, published, strict=True)
        ]
        cvss = {
            m: [v if o else None for v, o in zip(vals, ok, strict=True)] for m, vals in cvss.items()
        }
    return Examples(
        ids=take("id"),
        texts=[model_input(d) for d in take("description")],
        cwe_gold=cwe_gold,
        cwe_source=cwe_source,
        cvss=cvss,
        cvss_source=cvss_source,
        attack_kev=take("attack_kev"),
    )


def _window_start(newest: datetime | None, years: float | None) -> datetime | None:
    if newest is None or years is None:
        return None
    return newest - timedelta(days=round(365.25 * years))


def _within(published: datetime | None, since: datetime | None) -> bool:
    return since is None or (published is not None and published >= since)


def cwe_roll_up(labels: Sequence[str], cwe: Any, min_count: int) -> dict[str, str | None]:
    """Map each CWE label to its class: itself, or the ancestor its examples roll up to.

    Deepest labels first: a label with fewer than ``min_count`` examples (its own
    plus those rolled into it) passes them to its nearest ancestor whose usage is
    Allowed / Allowed-with-Review, or its parent when none is; a root that stays
    rare maps to None (its examples are not used for the CWE head). ``cwe`` is a
    :class:`~vulntax.taxonomy.cwe.CweCatalog`.
    """
    counts: Counter[str] = Counter(labels)
    target: dict[str, str | None] = {}
    pending = set(counts)
    while pending:
        node = max(pending, key=lambda n: (len(cwe.path(n)), n))
        pending.discard(node)
        path = cwe.path(node)
        if not path:  # outside View 1000: no path to show, not a class
            target[node] = None
            continue
        if counts[node] >= min_count:
            target[node] = node
            continue
        ancestors = list(reversed(path[:-1]))  # nearest first
        if not ancestors:
            target[node] = None
            continue
        allowed = [a for a in ancestors if cwe.get(a).usage in ALLOWED_USAGE]
        up = allowed[0] if allowed else ancestors[0]
        target[node] = up
        counts[up] += counts[node]
        pending.add(up)
    resolved: dict[str, str | None] = {}
    for label in counts:
        seen: set[str] = set()
        current: str | None = label
        while current is not None and target.get(current) != current:
            if current in seen:  # cannot happen on a DAG's display paths; guard anyway
                current = None
                break
            seen.add(current)
            current = target.get(current)
        resolved[label] = current
    return {label: resolved[label] for label in set(labels)}
