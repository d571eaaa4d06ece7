"""Which labels a dataset example gets, and from whom.

Records carry labels from several sources (NVD analysts, the CNA, CISA's ADP
container, MITRE's Top-25 remapping). The policy picks one source per taxonomy,
in a fixed priority order, and maps raw CWE ids through the catalog's rules
(:meth:`vulntax.taxonomy.cwe.CweCatalog.map_label`):

* **CWE** — the first source in ``cwe_sources`` (default NVD, then CNA, then
  ADP) that yields at least one usable CWE after mapping; NVD placeholders are
  dropped, deprecated ids replaced, categories and Discouraged/Prohibited ids
  moved to the nearest Allowed one where the catalog defines it.
* **CVSS v3** — the first source in ``cvss_sources`` (default NVD, then ADP,
  then CNA) with a v3.1 or v3.0 vector. Every source's vector is also kept in
  its own column, so a model can train on NVD vectors only (CNAs score
  differently; see docs/dataset.md).
* **CAPEC / ATT&CK** — *derived* from the chosen CWEs through the catalog graph
  (CWE → CAPEC → ATT&CK), never stated by a source; the columns say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vulntax.errors import ConfigError
from vulntax.records import CveRecord, LabelSource

DEFAULT_CWE_SOURCES = (LabelSource.NVD, LabelSource.CNA, LabelSource.ADP)
DEFAULT_CVSS_SOURCES = (LabelSource.NVD, LabelSource.ADP, LabelSource.CNA)


@dataclass(frozen=True)
class LabelPolicy:
    cwe_sources: tuple[LabelSource, ...] = DEFAULT_CWE_SOURCES
    cvss_sources: tuple[LabelSource, ...] = DEFAULT_CVSS_SOURCES

    def __post_init__(self) -> None:
        for name in ("cwe_sources", "cvss_sources"):
            sources = getattr(self, name)
            if not sources:
                raise ConfigError(f"label policy: {name} must name at least one source")
            if len(set(sources)) != len(sources):
                raise ConfigError(f"label policy: {name} names a source twice")

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "cwe_sources": [s.value for s in self.cwe_sources],
            "cvss_sources": [s.value for s in self.cvss_sources],
        }


@dataclass
class CweChoice:
    raw: list[str] = field(default_factory=list)  # every CWE id any source stated
    raw_sources: list[str] = field(default_factory=list)  # the source of each raw id
    labels: list[str] = field(default_factory=list)  # after the policy
    source: str | None = None  # the source the labels come from
    rules: list[str] = field(default_factory=list)  # the mapping rule of every raw id used


@dataclass
class CvssChoice:
    vector: str | None = None
    version: str | None = None
    source: str | None = None
    by_source: dict[str, str] = field(default_factory=dict)  # source -> its v3 vector


def choose_cwe(record: CveRecord, policy: LabelPolicy, cwe_catalog: object) -> CweChoice:
    """Apply the CWE policy; ``cwe_catalog`` is a :class:`~vulntax.taxonomy.cwe.CweCatalog`."""
    choice = CweChoice()
    for label in record.cwes:
        choice.raw.append(label.cwe_id)
        choice.raw_sources.append(label.source.value)
    for source in policy.cwe_sources:
        mapped: dict[str, None] = {}
        rules: list[str] = []
        for raw in record.cwe_ids(source):
            mapping = cwe_catalog.map_label(raw)  # type: ignore[attr-defined]
            rules.append(mapping.rule)
            if mapping.mapped is not None:
                mapped.setdefault(mapping.mapped, None)
        if mapped:
            choice.labels = list(mapped)
            choice.source = source.value
            choice.rules = rules
            break
        choice.rules.extend(rules)  # why the earlier sources gave nothing
    return choice


def choose_cvss(record: CveRecord, policy: LabelPolicy) -> CvssChoice:
    choice = CvssChoice()
    for source in LabelSource:
        label = record.cvss_v3(source)
        if label is not None:
            choice.by_source[source.value] = label.vector
    for source in policy.cvss_sources:
        label = record.cvss_v3(source)
        if label is not None:
            choice.vector, choice.version, choice.source = label.vector, label.version, source.value
            break
    return choice
