"""``vulntax dataset build``: NVD + CVE JSON 5 records → labelled, deduplicated, split examples.

The steps, in order:

1. **read** every NVD feed (``nvd/*.json.gz``) and CVE JSON 5 file
   (``cve5/*.jsonl.gz``) of the data directory; unreadable records are
   counted by reason, never silently dropped;
2. **merge** records of the same CVE: the NVD record's description and date
   win, the CVE JSON 5 record adds its CNA and CISA-ADP labels;
3. **drop rejected** CVEs (counted);
4. **label** each record with the policy of :mod:`vulntax.dataset.policy`;
   derive CAPEC and ATT&CK labels through the catalog graph; attach the
   analysts' ATT&CK mappings (:mod:`vulntax.dataset.attack_gold`);
5. **collapse duplicates** (:mod:`vulntax.dataset.dedup`): one example per
   group, labels taken from the earliest member that has them;
6. **split** by date (:mod:`vulntax.dataset.split`);
7. **write** ``examples.parquet`` and ``manifest.json`` (counts, label
   distributions, input checksums, build time and peak memory).
"""

from __future__ import annotations

import resource
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vulntax import __version__, datadir
from vulntax.dataset import attack_gold
from vulntax.dataset.dedup import DEFAULT_THRESHOLD, find_duplicates
from vulntax.dataset.policy import LabelPolicy, choose_cvss, choose_cwe
from vulntax.dataset.split import SPLITS, UNDATED, SplitPlan
from vulntax.dataset.store import CVSS_COLUMNS, FORMAT, FORMAT_VERSION, sha256_file, write_dataset
from vulntax.errors import InvalidVectorError, UnknownIdError
from vulntax.progress import progress
from vulntax.records import CveRecord, IngestReport, LabelSource

REJECTED = "Rejected"


@dataclass
class _Example:
    record: CveRecord
    row: dict[str, Any] = field(default_factory=dict)


def build_dataset(
    data_dir: str | Path | None,
    out_dir: str | Path,
    *,
    policy: LabelPolicy | None = None,
    plan: SplitPlan | None = None,
    near_threshold: float = DEFAULT_THRESHOLD,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Build the dataset; returns the manifest it wrote."""
    from vulntax.ingest import read_records
    from vulntax.taxonomy import load_catalog

    started = time.perf_counter()
    policy = policy or LabelPolicy()
    plan = plan or SplitPlan()
    root = datadir.resolve(data_dir)
    nvd_files = datadir.glob(root, datadir.NVD_GLOB)
    cve5_files = datadir.glob(root, datadir.CVE5_GLOB)
    catalog = load_catalog(root)
    gold_dir = datadir.require(root, datadir.ATTACK_GOLD_DIR)
    ctid, kev = attack_gold.read_ctid(gold_dir), attack_gold.read_kev(gold_dir)
    counts: Counter[str] = Counter()

    # 1-2. read and merge
    records: dict[str, CveRecord] = {}
    reports: dict[str, IngestReport] = {}
    with progress(show_progress) as bar:
        task = bar.add_task("reading records", total=len(nvd_files) + len(cve5_files))
        for path in nvd_files:
            report = reports[str(path.relative_to(root))] = IngestReport()
            for record in read_records([path], report):
                counts["read_nvd"] += 1
                records[record.id] = _merge(records.get(record.id), record)
            bar.advance(task)
        for path in cve5_files:
            report = reports[str(path.relative_to(root))] = IngestReport()
            for record in read_records([path], report):
                counts["read_cve5"] += 1
                if record.id in records:
                    counts["merged"] += 1
                records[record.id] = _merge(records.get(record.id), record)
            bar.advance(task)

    # 3. rejected CVEs
    live = [r for r in records.values() if (r.status or "").lower() != REJECTED.lower()]
    counts["rejected"] = len(records) - len(live)
    live.sort(
        key=lambda r: (r.published is None, r.published or datetime.min.replace(tzinfo=UTC), r.id)
    )

    # 4. labels
    rule_counts: Counter[str] = Counter()
    examples = [label_record(r, policy, catalog, ctid, kev, rule_counts, counts) for r in live]

    # 5. duplicates (earliest first, so representatives are the earliest members)
    dedup = find_duplicates([e.record.description for e in examples], threshold=near_threshold)
    groups: dict[int, list[int]] = {}
    for i, rep in enumerate(dedup.representative):
        groups.setdefault(int(rep), []).append(i)

    # 6. split, collapse
    rows = [_collapse([examples[i] for i in members], plan) for members in groups.values()]
    rows.sort(
        key=lambda row: (row["published"] is None, row["published"] or datetime.min, row["id"])
    )

    table = _to_table(rows)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "vulntax_version": __version__,
        "inputs": [
            {
                "path": str(p.relative_to(root)),
                "sha256": sha256_file(p),
                "bytes": p.stat().st_size,
                **{
                    k: v
                    for k, v in reports[str(p.relative_to(root))].to_dict().items()
                    if k != "files"
                },
            }
            for p in [*nvd_files, *cve5_files]
        ],
        "attack_gold": {
            g.name: {
                "files": [str(Path(f).relative_to(root)) for f in g.files],
                "cves": len(g),
                "invalid_cells": dict(g.invalid),
            }
            for g in (ctid, kev)
        },
        "catalog": dict(catalog.versions),
        "policy": policy.to_dict(),
        "split": plan.to_dict(),
        "dedup": {
            "threshold": near_threshold,
            "records": len(examples),
            "exact": dedup.exact,
            "numbers": dedup.numbers,
            "near": dedup.near,
            "kept": dedup.kept,
        },
        "counts": {
            **dict(sorted(counts.items())),
            "examples": len(rows),
            "by_split": dict(Counter(row["split"] for row in rows)),
        },
        "cwe_rules": dict(rule_counts.most_common()),
        "distributions": _distributions(rows),
    }
    out = Path(out_dir)
    manifest["build_seconds"] = round(time.perf_counter() - started, 1)
    manifest["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    write_dataset(out, table, manifest)
    return manifest


def _merge(old: CveRecord | None, new: CveRecord) -> CveRecord:
    """Merge two records of one CVE: ``old``'s text and dates win, labels are pooled."""
    if old is None:
        return new
    cwes = tuple(dict.fromkeys((*old.cwes, *new.cwes)))
    cvss = tuple(dict.fromkeys((*old.cvss, *new.cvss)))
    return replace(
        old,
        published=old.published or new.published,
        last_modified=max(filter(None, (old.last_modified, new.last_modified)), default=None),
        status=old.status or new.status,
        cwes=cwes,
        cvss=cvss,
    )


def label_record(
    record: CveRecord,
    policy: LabelPolicy,
    catalog: Any,
    ctid: attack_gold.GoldSet,
    kev: attack_gold.GoldSet,
    rule_counts: Counter[str],
    counts: Counter[str],
) -> _Example:
    from vulntax.taxonomy.cvss import metrics_from_vector

    cwe = choose_cwe(record, policy, catalog.cwe)
    rule_counts.update(cwe.rules)
    cvss = choose_cvss(record, policy)
    metrics: dict[str, str] = {}
    if cvss.vector is not None:
        try:
            metrics = metrics_from_vector(cvss.vector)
        except InvalidVectorError:
            counts["invalid_cvss_vector"] += 1
            cvss.vector = cvss.version = cvss.source = None
    capec: dict[str, None] = {}
    attack: dict[str, None] = {}
    for cwe_id in cwe.labels:
        capec.update(dict.fromkeys(sorted(catalog.graph.cwe_to_capec(cwe_id))))
        attack.update(dict.fromkeys(sorted(catalog.graph.cwe_to_attack(cwe_id))))

    def resolved(ids: list[str]) -> list[str]:
        out: dict[str, None] = {}
        for t in ids:
            try:
                current = catalog.attack.resolve(t)
            except UnknownIdError:  # ICS / Mobile ids: not in the Enterprise catalog
                counts["attack_gold_not_enterprise"] += 1
                continue
            if current is None:
                counts["attack_gold_deprecated"] += 1
            else:
                out.setdefault(current, None)
        return list(out)

    row = {
        "id": record.id,
        "published": record.published.replace(tzinfo=None) if record.published else None,
        "description": record.description,
        "origin": record.origin.value,
        "cwe_raw": cwe.raw,
        "cwe_raw_sources": cwe.raw_sources,
        "cwe": cwe.labels,
        "cwe_source": cwe.source,
        "cwe_rules": cwe.rules,
        "cvss_vector": cvss.vector,
        "cvss_version": cvss.version,
        "cvss_source": cvss.source,
        **{m: metrics.get(m) for m in CVSS_COLUMNS},
        **{f"cvss_{s.value}": cvss.by_source.get(s.value) for s in _CVSS_SOURCES},
        "capec_derived": list(capec),
        "attack_derived": list(attack),
        "attack_ctid": resolved(ctid.techniques(record.id)),
        "attack_kev": resolved(kev.techniques(record.id)),
    }
    return _Example(record, row)


_CVSS_SOURCES = (LabelSource.NVD, LabelSource.CNA, LabelSource.ADP)
# columns filled, per group, from the earliest member that has them
_LABEL_GROUPS = (
    ("cwe", "cwe_source", "cwe_rules"),
    ("cvss_vector", "cvss_version", "cvss_source", *CVSS_COLUMNS),
    *((f"cvss_{s.value}",) for s in _CVSS_SOURCES),
    ("capec_derived",),
    ("attack_derived",),
)


def _collapse(members: list[_Example], plan: SplitPlan) -> dict[str, Any]:
    row = dict(members[0].row)
    for columns in _LABEL_GROUPS:
        if not row[columns[0]]:
            donor = next((m.row for m in members[1:] if m.row[columns[0]]), None)
            if donor is not None:
                row.update({c: donor[c] for c in columns})
    for gold in ("attack_ctid", "attack_kev"):  # analysts' labels of any member count
        row[gold] = list(dict.fromkeys(t for m in members for t in m.row[gold]))
    row["dup_ids"] = [m.row["id"] for m in members[1:]]
    row["dup_count"] = len(members)
    row["split"] = plan.assign(row["published"])
    return row


def _to_table(rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    string, strings = pa.string(), pa.list_(pa.string())
    schema = pa.schema(
        [
            ("id", string),
            ("published", pa.timestamp("s")),
            ("split", string),
            ("description", string),
            ("origin", string),
            ("dup_count", pa.int32()),
            ("dup_ids", strings),
            ("cwe_raw", strings),
            ("cwe_raw_sources", strings),
            ("cwe", strings),
            ("cwe_source", string),
            ("cwe_rules", strings),
            ("cvss_vector", string),
            ("cvss_version", string),
            ("cvss_source", string),
            *((m, string) for m in CVSS_COLUMNS),
            *((f"cvss_{s.value}", string) for s in _CVSS_SOURCES),
            ("capec_derived", strings),
            ("attack_derived", strings),
            ("attack_ctid", strings),
            ("attack_kev", strings),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _distributions(rows: list[dict[str, Any]], top: int = 25) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in (*SPLITS, UNDATED):
        part = [r for r in rows if r["split"] == split]
        if not part:
            continue
        cwe = Counter(c for r in part for c in r["cwe"])
        out[split] = {
            "examples": len(part),
            "with_cwe": sum(1 for r in part if r["cwe"]),
            "with_cvss": sum(1 for r in part if r["cvss_vector"]),
            "with_capec": sum(1 for r in part if r["capec_derived"]),
            "with_attack": sum(1 for r in part if r["attack_derived"]),
            "attack_gold": {
                "ctid": sum(1 for r in part if r["attack_ctid"]),
                "kev": sum(1 for r in part if r["attack_kev"]),
            },
            "origin": dict(Counter(r["origin"] for r in part)),
            "cwe_source": dict(Counter(r["cwe_source"] for r in part if r["cwe_source"])),
            "cvss_source": dict(Counter(r["cvss_source"] for r in part if r["cvss_source"])),
            "cwe_classes": len(cwe),
            "cwe_top": cwe.most_common(top),
            "cvss": {
                m: dict(Counter(r[m] for r in part if r[m]).most_common()) for m in CVSS_COLUMNS
            },
        }
    return out
