"""Plots of an evaluation report, as PNG files (matplotlib, Agg, imported here only).

Every plot is drawn from the report dict alone, so it can be redrawn from a
saved ``report.json``. matplotlib's object API is used (``Figure`` + Agg
canvas), never ``pyplot``: no global backend or state is touched.

* ``cvss_confusion.png`` — one confusion matrix per CVSS base metric (8 panels);
* ``cwe_by_frequency.png`` — CWE accuracy by how often the gold CWE occurs in training;
* ``reliability.png`` — reliability diagrams of the CWE confidence and the CVSS
  metric probabilities, with their expected calibration error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vulntax.dataset.store import CVSS_COLUMNS

CONFUSION = "cvss_confusion.png"
FREQUENCY = "cwe_by_frequency.png"
RELIABILITY = "reliability.png"
DPI = 110


def write_plots(report: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Draw every plot the report has data for into ``out_dir``; returns the files written."""
    from vulntax.evaluate.report import out_folder

    out = out_folder(out_dir)
    written = [
        _save(confusion_figure(report), out / CONFUSION),
        _save(reliability_figure(report), out / RELIABILITY),
    ]
    if report["cwe"].get("by_frequency"):
        written.append(_save(frequency_figure(report), out / FREQUENCY))
    return written


def confusion_figure(report: dict[str, Any]) -> Any:
    from matplotlib.figure import Figure

    from vulntax.taxonomy.cvss import METRIC_NAMES

    confusion = report["cvss"]["confusion"]
    fig = Figure(figsize=(16, 9.5), layout="constrained")
    axes = fig.subplots(2, 4)
    for ax, metric in zip(axes.ravel(), CVSS_COLUMNS, strict=True):
        values, matrix = confusion[metric]["values"], confusion[metric]["matrix"]
        totals = [sum(row) for row in matrix]
        shares = [[n / t if t else 0.0 for n in row] for row, t in zip(matrix, totals, strict=True)]
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for i, row in enumerate(matrix):
            for j, n in enumerate(row):
                ax.text(
                    j,
                    i,
                    f"{n:,}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if shares[i][j] > 0.6 else "black",
                )
        ticks = list(range(len(values)))
        ax.set_xticks(ticks, values)
        ax.set_yticks(ticks, values)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(f"{METRIC_NAMES[metric]} ({metric})", fontsize=10)
    fig.suptitle("CVSS v3 base metrics: confusion matrices (colour: share of the gold row)")
    return fig


def frequency_figure(report: dict[str, Any]) -> Any:
    from matplotlib.figure import Figure

    pair = report["cwe"]["by_frequency"]
    buckets = list(pair["model"])
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    width = 0.27
    series = [
        ("model, strict", pair["model"], "top1", -width),
        ("model, hierarchy-aware", pair["model"], "hierarchy", 0.0),
        ("majority baseline, strict", pair["baseline"], "top1", width),
    ]
    for label, side, key, shift in series:
        if side is None:
            continue
        heights = [side[b][key] or 0.0 for b in buckets]
        ax.bar([i + shift for i in range(len(buckets))], heights, width, label=label)
    ax.set_xticks(range(len(buckets)), [f"{b}\n({pair['model'][b]['records']:,})" for b in buckets])
    ax.set_xlabel("training examples of the gold CWE (records evaluated)")
    ax.set_ylabel("top-1 accuracy")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("CWE accuracy by training frequency")
    return fig


def reliability_figure(report: dict[str, Any]) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 5), layout="constrained")
    left, right = fig.subplots(1, 2)
    cwe = report["cwe"]["calibration"]["model"]
    _diagonal(left)
    _curve(left, cwe, f"model (ECE {_ece(cwe)})", marker="o")
    left.set_title("CWE confidence")
    cvss = report["cvss"]["calibration"]["model"]
    _diagonal(right)
    for metric in CVSS_COLUMNS:
        _curve(right, cvss[metric], f"{metric} (ECE {_ece(cvss[metric])})", marker=".")
    _curve(right, cvss["all"], f"all metrics (ECE {_ece(cvss['all'])})", marker="o", lw=2.5)
    right.set_title("CVSS: probability of the predicted value")
    for ax in (left, right):
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("observed accuracy")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(loc="upper left", fontsize=7)
    fig.suptitle("Reliability diagrams (10 equal-width bins)")
    return fig


def _curve(ax: Any, data: dict[str, Any], label: str, **style: Any) -> None:
    bins = [b for b in data["bins"] if b["records"]]
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], label=label, **style)


def _diagonal(ax: Any) -> None:
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")


def _ece(data: dict[str, Any]) -> str:
    return "–" if data.get("ece") is None else f"{data['ece']:.3f}"


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    return path
