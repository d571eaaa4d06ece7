"""``vulntax dataset stats``: the manifest's counts and label distributions as tables."""

from __future__ import annotations

from typing import Any

from vulntax.dataset.split import SPLITS, UNDATED
from vulntax.dataset.store import CVSS_COLUMNS, Dataset


def render(dataset: Dataset, top: int = 15) -> list[Any]:
    """Rich renderables describing the dataset (printed by the CLI)."""
    from rich.table import Table

    m = dataset.manifest
    dist: dict[str, Any] = m["distributions"]
    splits = [s for s in (*SPLITS, UNDATED) if s in dist]
    out: list[Any] = []

    overview = Table(title=f"dataset {dataset.path}", title_justify="left")
    overview.add_column("split")
    for column in (
        "examples",
        "with CWE",
        "with CVSS v3",
        "CWE classes",
        "CAPEC",
        "ATT&CK",
        "CTID gold",
    ):
        overview.add_column(column, justify="right")
    for s in splits:
        d = dist[s]
        overview.add_row(
            s,
            f"{d['examples']:,}",
            f"{d['with_cwe']:,}",
            f"{d['with_cvss']:,}",
            f"{d['cwe_classes']:,}",
            f"{d['with_capec']:,}",
            f"{d['with_attack']:,}",
            f"{d['attack_gold']['ctid']:,}",
        )
    out.append(overview)

    plan = m["split"]
    c = m["counts"]
    dd = m["dedup"]
    out.append(
        f"split: train < {plan['validation_start']} ≤ validation < {plan['test_start']} ≤ test   "
        f"read: {c.get('read_nvd', 0):,} NVD + {c.get('read_cve5', 0):,} CVE JSON 5 records "
        f"({c.get('merged', 0):,} merged), {c.get('rejected', 0):,} rejected dropped; "
        f"duplicates collapsed: {dd['exact']:,} exact, {dd['numbers']:,} differing in numbers, "
        f"{dd['near']:,} near (Jaccard ≥ {dd['threshold']})"
    )
    skipped = sum(i.get("skipped", 0) for i in m["inputs"])
    if skipped:
        reasons: dict[str, int] = {}
        for i in m["inputs"]:
            for reason, n in i.get("skip_reasons", {}).items():
                reasons[reason] = reasons.get(reason, 0) + n
        out.append(
            f"skipped records: {skipped:,} ("
            + ", ".join(f"{r}: {n:,}" for r, n in reasons.items())
            + ")"
        )

    sources = Table(title="label sources", title_justify="left")
    sources.add_column("split")
    sources.add_column("CWE from")
    sources.add_column("CVSS from")
    for s in splits:
        sources.add_row(s, _counts(dist[s]["cwe_source"]), _counts(dist[s]["cvss_source"]))
    out.append(sources)

    cwe = Table(title=f"top {top} CWE labels (after the label policy)", title_justify="left")
    cwe.add_column("rank", justify="right")
    for s in splits:
        cwe.add_column(s)
    tops = {s: dist[s]["cwe_top"][:top] for s in splits}
    for rank in range(top):
        cells = []
        for s in splits:
            cells.append(f"{tops[s][rank][0]} {tops[s][rank][1]:,}" if rank < len(tops[s]) else "")
        cwe.add_row(str(rank + 1), *cells)
    out.append(cwe)

    cvss = Table(
        title="CVSS v3 base metric values (share of examples with a vector)", title_justify="left"
    )
    cvss.add_column("metric")
    for s in splits:
        cvss.add_column(s)
    for metric in CVSS_COLUMNS:
        cells = []
        for s in splits:
            values = dist[s]["cvss"][metric]
            total = sum(values.values()) or 1
            cells.append("  ".join(f"{v}:{n / total:.0%}" for v, n in values.items()))
        cvss.add_row(metric, *cells)
    out.append(cvss)

    rules = Table(title="CWE label policy: rules applied to raw labels", title_justify="left")
    rules.add_column("rule")
    rules.add_column("labels", justify="right")
    for rule, n in list(m["cwe_rules"].items())[:top]:
        rules.add_row(rule, f"{n:,}")
    out.append(rules)
    out.append(
        f"built in {m['build_seconds']} s, peak memory {m['peak_rss_mb']:,} MB, "
        f"vulntax {m['vulntax_version']}"
    )
    return out


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
