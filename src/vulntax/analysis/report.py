"""The figures, ``analysis.json`` and ``report.md`` of a clustering study.

matplotlib's object API (``Figure`` + Agg canvas) is used, as in
:mod:`vulntax.evaluate.plots`; it is imported only here.

* ``pca_scatter.png`` — the sample on the first two PCA axes, coloured by cluster;
* ``criteria.png`` — SSE, silhouette, Calinski–Harabasz and Gaussian-mixture BIC against k;
* ``cvss_heatmap.png`` — per cluster, the share of every CVSS base-metric value and the
  mean base / impact / exploitability score;
* ``separation.png`` — pairwise centroid distances (Minkowski p = 1, 2, 3 and cosine).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.analysis.clusters import ClusterAnalysis, ClusterProfile
from vulntax.dataset.store import CVSS_COLUMNS

SCATTER = "pca_scatter.png"
CRITERIA = "criteria.png"
HEATMAP = "cvss_heatmap.png"
SEPARATION = "separation.png"
JSON = "analysis.json"
MARKDOWN = "report.md"
DPI = 100
SCORES = ("base", "impact", "exploitability")
SHIFT = 0.15  # a metric value's share differs from the sample's by this much: worth saying


def write_report(analysis: ClusterAnalysis, out_dir: str | Path, run: dict[str, Any]) -> Path:
    """Write the figures, ``analysis.json`` and ``report.md``; returns the report's path.

    ``run`` says what was run (dataset, split, …); it is stored in the JSON and the report.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = {**run, "hardware": hardware()}
    _save(scatter_figure(analysis), out / SCATTER)
    _save(criteria_figure(analysis), out / CRITERIA)
    _save(cvss_figure(analysis), out / HEATMAP)
    _save(separation_figure(analysis), out / SEPARATION)
    data = {"run": run, **analysis.to_dict()}
    (out / JSON).write_text(json.dumps(data, indent=1) + "\n")
    (out / MARKDOWN).write_text(markdown(analysis, run))
    return out / MARKDOWN


def hardware() -> str:
    cpus = os.cpu_count() or 0
    return f"{platform.machine()}, {cpus} CPU(s), {platform.system()} {platform.release()}"


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    return path


def _colours(k: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]


# ---------------------------------------------------------------------------- figures
def scatter_figure(a: ClusterAnalysis) -> Any:
    from matplotlib.figure import Figure

    colours = _colours(a.chosen_k)
    fig = Figure(figsize=(8, 6.5), layout="constrained")
    ax = fig.subplots()
    for c in range(a.chosen_k):
        pts = a.points[a.point_labels == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=4, alpha=0.35, color=colours[c], linewidths=0)
        ax.scatter([], [], s=30, color=colours[c], label=f"{c} ({a.clusters[c].size:,})")
    for c, (x, y) in enumerate(a.centres_2d):
        ring = {"boxstyle": "circle", "fc": "white", "ec": colours[c], "lw": 2}
        ax.annotate(str(c), (x, y), ha="center", va="center", fontsize=11, weight="bold", bbox=ring)
    explained = a.space.explained if a.space is not None else np.zeros(2)
    ax.set_xlabel(f"PC 1 ({explained[0]:.1%} of the TF-IDF variance)")
    ax.set_ylabel(f"PC 2 ({explained[1]:.1%})")
    ax.legend(title="cluster (size)", fontsize=8, markerscale=1, loc="best")
    ax.set_title(
        f"{len(a.points):,} of {a.sample:,} sampled descriptions on the first two PCA axes, "
        f"k = {a.chosen_k}",
        fontsize=10,
    )
    return fig


def criteria_figure(a: ClusterAnalysis) -> Any:
    from matplotlib.figure import Figure

    ks = [c.k for c in a.criteria]
    panels = [
        ("sse", "K-Means SSE (inertia)", a.elbow_k, "elbow"),
        ("silhouette", f"silhouette ({a.silhouette_sample:,}-point sub-sample)", a.chosen_k,
         "best"),
        ("calinski_harabasz", "Calinski–Harabasz index", None, ""),
        ("bic", "Gaussian mixture BIC (diagonal; lower is better)", a.bic_k, "lowest"),
    ]  # fmt: skip
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    for ax, (key, title, mark, word) in zip(fig.subplots(2, 2).ravel(), panels, strict=True):
        values = [getattr(c, key) for c in a.criteria]
        ax.plot(ks, values, marker="o", color="tab:blue")
        ax.axvline(a.chosen_k, color="tab:red", ls="--", lw=1, label=f"chosen k = {a.chosen_k}")
        if mark is not None and word:
            y = values[ks.index(mark)]
            ax.scatter([mark], [y], s=120, facecolors="none", edgecolors="black", zorder=3,
                       label=f"{word}: k = {mark}")  # fmt: skip
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("k")
        ax.set_xticks(ks)
        ax.legend(fontsize=8)
    fig.suptitle(f"Choosing k on {a.sample:,} descriptions, {a.components} PCA axes")
    return fig


def cvss_figure(a: ClusterAnalysis) -> Any:
    from matplotlib.figure import Figure

    columns = [(m, v) for m in CVSS_COLUMNS for v in a.overall["metrics"][m]]
    rows: list[tuple[str, dict[str, Any]]] = [
        (f"{c.cluster} (n={c.cvss_scored:,})", {"metrics": c.metrics, "scores": c.scores})
        for c in a.clusters
    ]
    rows.append((f"all (n={a.overall['scored']:,})", a.overall))
    shares = np.array([[r["metrics"][m][v] for m, v in columns] for _, r in rows])
    scores = np.array([[r["scores"][s] if r["scores"][s] is not None else np.nan
                        for s in SCORES] for _, r in rows])  # fmt: skip
    fig = Figure(figsize=(16, 1.6 + 0.55 * len(rows)), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[len(columns), 4.5])
    left.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    _annotate(left, shares, "{:.0%}", 0.6)
    left.set_xticks(range(len(columns)), [f"{m}:{v}" for m, v in columns], rotation=90)
    left.set_yticks(range(len(rows)), [name for name, _ in rows])
    for edge in np.cumsum([len(a.overall["metrics"][m]) for m in CVSS_COLUMNS])[:-1]:
        left.axvline(edge - 0.5, color="grey", lw=1)
    left.axhline(len(rows) - 1.5, color="black", lw=1.5)
    left.set_title("share of each CVSS v3 base-metric value (records with a full vector)")
    right.imshow(scores, cmap="OrRd", vmin=0, vmax=10, aspect="auto")
    _annotate(right, scores, "{:.1f}", 6.5)
    right.set_xticks(range(3), ["base", "impact", "expl."])
    right.set_yticks(range(len(rows)), [name for name, _ in rows])
    right.axhline(len(rows) - 1.5, color="black", lw=1.5)
    right.set_title("mean score")
    fig.suptitle(f"CVSS profile of the {a.chosen_k} clusters (rows) against the whole sample")
    return fig


def separation_figure(a: ClusterAnalysis) -> Any:
    from matplotlib.figure import Figure

    names = [("minkowski_p1", "Minkowski p = 1"), ("minkowski_p2", "Euclidean (p = 2)"),
             ("minkowski_p3", "Minkowski p = 3"), ("cosine", "cosine distance")]  # fmt: skip
    k = a.chosen_k
    fig = Figure(figsize=(4.2 * 4, 4.4 + 0.1 * k), layout="constrained")
    for ax, (key, title) in zip(fig.subplots(1, 4), names, strict=True):
        matrix = np.asarray(a.separation[key]["matrix"])
        ax.imshow(matrix, cmap="viridis")
        _annotate(ax, matrix, "{:.2f}", None, fontsize=max(6, 11 - k // 2))
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.set_title(f"{title}\nmin {a.separation[key]['min']:.2f}, mean "
                     f"{a.separation[key]['mean']:.2f}", fontsize=10)  # fmt: skip
    fig.suptitle(f"Distances between the {k} K-Means centroids ({a.components} PCA axes)")
    return fig


def _annotate(ax: Any, values: np.ndarray, fmt: str, dark: float | None, fontsize: int = 8) -> None:
    light_at = dark if dark is not None else float(np.nanmean(values))
    for (i, j), v in np.ndenumerate(values):
        if np.isnan(v):
            continue
        colour = "white" if (v > light_at) == (dark is not None) else "black"
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=fontsize, color=colour)


# ---------------------------------------------------------------------------- markdown
def markdown(a: ClusterAnalysis, run: dict[str, Any]) -> str:
    lines = [
        "# Clustering analysis of the vulnerability descriptions",
        "",
        "## What was run",
        "",
        f"- dataset: `{run.get('dataset', '?')}`, split `{run.get('split', '?')}`: "
        f"{a.records:,} records; a random sample of **{a.sample:,}** (seed {a.seed}) analysed",
        f"- features: TF-IDF word 1-grams → PCA, {a.components} axes keeping "
        f"{a.explained_variance:.1%} of the TF-IDF variance",
        f"- k = {a.criteria[0].k}…{a.criteria[-1].k}: K-Means (4 restarts) and a Gaussian "
        "mixture with diagonal covariances for each k",
        f"- silhouette on a random sub-sample of {a.silhouette_sample:,} points",
        f"- {a.seconds:,.1f} s for the analysis, on {run['hardware']}",
        "",
        "## Criteria",
        "",
        "| k | SSE | silhouette | Calinski–Harabasz | GMM BIC |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in a.criteria:
        mark = " **←**" if row.k == a.chosen_k else ""
        lines.append(
            f"| {row.k}{mark} | {row.sse:,.1f} | {row.silhouette:.4f} | "
            f"{row.calinski_harabasz:,.1f} | {row.bic:,.0f}"
            f"{'' if row.gmm_converged else ' (not converged)'} |"
        )
    best = a.criterion(a.chosen_k)
    lines += [
        "",
        f"**Chosen k = {a.chosen_k}**, by the rule: {a.rule}; its silhouette is "
        f"{best.silhouette:.4f}. "
        f"For comparison, the elbow of the SSE curve (the point farthest from its chord) is "
        f"k = {a.elbow_k}, and the lowest BIC of the Gaussian mixture is at k = {a.bic_k}"
        f"{' (the largest k tried: BIC still falling)' if a.bic_k == a.criteria[-1].k else ''}.",
        "",
        "![criteria](criteria.png)",
        "",
        "![PCA scatter](pca_scatter.png)",
        "",
        "## Separation of the clusters",
        "",
        "| distance | min between centroids | mean between centroids |",
        "|---|---:|---:|",
    ]
    for key in ("minkowski_p1", "minkowski_p2", "minkowski_p3", "cosine"):
        s = a.separation[key]
        lines.append(f"| {key.replace('_', ' ')} | {s['min']:.3f} | {s['mean']:.3f} |")
    within = a.separation["within"]
    lines += [
        "",
        f"Mean Euclidean distance of a point to its own centroid, per cluster: "
        f"{', '.join(f'{w:.3f}' for w in within)}.",
        "",
        "![separation](separation.png)",
        "",
        "## The clusters",
        "",
        f"The whole sample: {a.overall['scored']:,} records with a full CVSS v3 vector "
        f"(mean base score {_num(a.overall['scores']['base'])}), "
        f"{a.overall['cwe_labelled']:,} with a CWE label.",
        "",
        "Top terms: highest mean TF-IDF weight in the cluster; distinctive terms: highest mean "
        "weight above the sample's mean. CWE shares are of the cluster's records with a CWE "
        "label; CVSS means are over its records with a full v3 vector.",
        "",
        "| cluster | size | top terms | distinctive terms | dominant CWEs | CVSS records | base "
        "| impact | expl. |",
        "|---:|---:|---|---|---|---:|---:|---:|---:|",
    ]
    for c in a.clusters:
        lines.append(
            f"| {c.cluster} | {c.size:,} ({c.share:.0%}) | {_terms(c.top_terms, 6)} | "
            f"{_terms(c.distinctive_terms, 6)} | "
            f"{_cwes(c)} | {c.cvss_scored:,} | {_num(c.scores['base'])} | "
            f"{_num(c.scores['impact'])} | {_num(c.scores['exploitability'])} |"
        )
    lines += ["", "![CVSS profile](cvss_heatmap.png)", "", "### Reading", ""]
    lines += [f"- {interpret(c, a.overall)}" for c in a.clusters]
    lines.append("")
    return "\n".join(lines)


def interpret(c: ClusterProfile, overall: dict[str, Any]) -> str:
    """One sentence about a cluster, built only from its figures."""
    parts = [
        f"**Cluster {c.cluster}** ({c.size:,} records, {c.share:.0%}"
        f"{', the bulk of the sample' if c.share >= 0.5 else ''}) is marked by the terms "
        f"{_terms(c.distinctive_terms, 5)}"
    ]
    if c.cwes:
        cwe, share = c.cwes[0]
        parts.append(f"its most frequent CWE is {cwe} ({share:.0%} of its {c.cwe_labelled:,} "
                     "labelled records)")  # fmt: skip
    if c.cvss_scored:
        shifts = [
            f"{m}:{v} {share:.0%} (all: {overall['metrics'][m][v]:.0%})"
            for m in CVSS_COLUMNS
            for v, share in c.metrics[m].items()
            if share - overall["metrics"][m][v] >= SHIFT
        ]
        base, mean = c.scores["base"], overall["scores"]["base"]
        profile = f"its mean CVSS base score is {_num(base)} (all: {_num(mean)})"
        if shifts:
            profile += ", with more " + ", ".join(shifts[:4]) + " than the sample"
        parts.append(profile)
    else:
        parts.append("none of its records has a CVSS v3 vector")
    return "; ".join(parts) + "."


def _terms(terms: list[tuple[str, float]], n: int) -> str:
    return ", ".join(f"*{t}*" for t, _ in terms[:n]) or "—"


def _cwes(c: ClusterProfile) -> str:
    return ", ".join(f"{cwe} {_share(share)}" for cwe, share in c.cwes) or "—"


def _share(share: float) -> str:
    return "<1%" if 0 < share < 0.005 else f"{share:.0%}"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
