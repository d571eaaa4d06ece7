"""An evaluation report as files: JSON (everything) and Markdown (tables, model vs baseline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vulntax.dataset.store import CVSS_COLUMNS

JSON_NAME = "report.json"
MARKDOWN_NAME = "report.md"
NONE = "–"  # a figure with nothing to average over
NO_BASELINE = (
    "none (the model's metrics.json has none; pass --dataset DIR to count one on its train split)"
)

_CWE_ROWS = (
    ("records", "records with a gold CWE"),
    ("top1", "top-1 accuracy (strict)"),
    ("top5", "top-5 accuracy"),
    ("hierarchy", "hierarchy-aware accuracy"),
    ("macro_f1", "macro-F1"),
    ("path_violation_rate", "path violation rate"),
    ("abstain_rate", "abstain rate"),
    ("answered_accuracy", "top-1 accuracy when not abstaining"),
)
_CVSS_ROWS = (
    ("records", "records with a gold vector"),
    ("mean_accuracy", "mean per-metric accuracy"),
    ("exact_vector", "exact vector match"),
    ("base_score_mae", "base-score MAE"),
    ("severity_accuracy", "severity accuracy"),
)
_LINK_ROWS = (
    ("records", "records with gold labels"),
    ("recall@5", "recall@5"),
    ("hit@5", "hit@5"),
    ("micro_f1", "micro-F1 (p ≥ 0.5)"),
    ("macro_f1", "macro-F1 (p ≥ 0.5)"),
    ("precision", "micro precision"),
    ("recall", "micro recall"),
    ("predicted_per_record", "predicted labels per record"),
    ("gold_per_record", "gold labels per record"),
)


def write_report(report: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir``; returns their paths."""
    out = out_folder(out_dir)
    json_path, md_path = out / JSON_NAME, out / MARKDOWN_NAME
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report), encoding="utf-8")
    return [json_path, md_path]


def out_folder(out_dir: str | Path) -> Path:
    """``out_dir``, created if missing; a UsageError if it is a file or cannot be made."""
    from vulntax.errors import UsageError

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create the folder ({exc.strerror})") from exc
    return out


def fmt(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def title(report: dict[str, Any]) -> str:
    run = report["run"]
    model = run.get("model", {})
    name = f"{model.get('name', '?')} {model.get('version', '')}".strip()
    where = (
        f"`{run['split']}` split of `{run['dataset']}`" if "split" in run else f"`{run['input']}`"
    )
    return f"vulntax evaluation: {name} on {where}"


def summary_markdown(report: dict[str, Any]) -> str:
    """The title, what was evaluated, and the headline table."""
    run = report["run"]
    gold = run.get("gold", {})
    lines = [
        f"# {title(report)}",
        "",
        *([f"**Warning: {run['warning']}.**", ""] if run.get("warning") else []),
        f"{fmt(gold.get('records'))} records ({fmt(run.get('unclassified'))} not classified); "
        f"gold labels: CWE {fmt(gold.get('cwe'))}, CVSS {fmt(gold.get('cvss'))}, "
        f"CAPEC {fmt(gold.get('capec'))}, ATT&CK {fmt(gold.get('attack'))}, "
        f"KEV {fmt(gold.get('attack_kev'))}; CTID gold set {fmt(run.get('ctid_records'))}. "
        f"Baseline: {run.get('baseline') or NO_BASELINE}.",
        "",
        "## Summary",
        "",
        *_table(
            ["figure", "model", "majority baseline"],
            [[name, fmt(v["model"]), fmt(v["baseline"])] for name, v in report["summary"].items()],
        ),
    ]
    return "\n".join(lines) + "\n"


def markdown(report: dict[str, Any]) -> str:
    """The full report as Markdown tables."""
    parts = [summary_markdown(report), _cwe(report["cwe"]), _cvss(report["cvss"])]
    parts.append(_links_section("CAPEC", {"derived": report["capec"]}))
    attack = {k: v for k, v in report["attack"].items() if k != "technique_level"}
    parts.append(_links_section("ATT&CK", attack))
    if report["attack"].get("technique_level"):
        parts.append(
            _links_section(
                "ATT&CK at technique level (a sub-technique counts as its parent)",
                report["attack"]["technique_level"],
                level=3,
            )
        )
    run = report["run"]
    seconds = run.get("seconds", {})
    parts.append(
        "## Run\n\n"
        f"Catalogs {_versions(run.get('catalog'))}; read {fmt(seconds.get('read'))} s, "
        f"predict {fmt(seconds.get('predict'))} s, score {fmt(seconds.get('score'))} s. "
        "Definitions of every figure: `docs/evaluation.md`.\n"
    )
    return "\n".join(parts)


def _cwe(section: dict[str, Any]) -> str:
    lines = ["## CWE", "", *_pair_table(section["overall"], _CWE_ROWS), ""]
    if section["by_source"]:
        lines += ["### By label source (model / baseline)", ""]
        keys = ("top1", "top5", "hierarchy", "macro_f1", "abstain_rate")
        rows = [
            [source, fmt(pair["model"]["records"]), *(_mb(pair, k) for k in keys)]
            for source, pair in section["by_source"].items()
        ]
        lines += [*_table(["source", "records", *keys], rows), ""]
    frequency = section.get("by_frequency")
    if frequency:
        lines += ["### By training frequency of the gold CWE (model / baseline)", ""]
        rows = [
            [
                bucket,
                fmt(frequency["model"][bucket]["records"]),
                *(_mb(frequency, bucket, k) for k in ("top1", "hierarchy")),
            ]
            for bucket in frequency["model"]
        ]
        lines += [*_table(["seen in training", "records", "top1", "hierarchy"], rows), ""]
    calibration = section["calibration"]
    lines += [
        "### Calibration of the CWE confidence",
        "",
        f"Expected calibration error (10 bins): model {fmt(calibration['model']['ece'])}, "
        f"baseline {fmt((calibration['baseline'] or {}).get('ece'))}.",
        "",
    ]
    return "\n".join(lines)


def _cvss(section: dict[str, Any]) -> str:
    overall = section["overall"]
    lines = ["## CVSS v3 base metrics", "", *_pair_table(overall, _CVSS_ROWS), ""]
    rows = []
    for metric in CVSS_COLUMNS:
        cal = section["calibration"]
        rows.append(
            [
                metric,
                _mb(overall, "accuracy", metric),
                _mb(overall, "macro_f1", metric),
                _mb(cal, metric, "ece"),
            ]
        )
    lines += ["### Per metric (model / baseline)", ""]
    lines += [*_table(["metric", "accuracy", "macro-F1", "ECE"], rows), ""]
    if section["by_source"]:
        lines += ["### By source of the gold vector (model / baseline)", ""]
        keys = ("mean_accuracy", "exact_vector", "base_score_mae", "severity_accuracy")
        rows = [
            [source, fmt(pair["model"]["records"]), *(_mb(pair, k) for k in keys)]
            for source, pair in section["by_source"].items()
        ]
        lines += [*_table(["source", "records", *keys], rows), ""]
    return "\n".join(lines)


def _links_section(name: str, sets: dict[str, Any], level: int = 2) -> str:
    present = {k: v for k, v in sets.items() if v is not None}
    header = ["figure"]
    for key in present:
        header += [f"{key} model", f"{key} baseline"]
    rows = []
    for key, label in _LINK_ROWS:
        row = [label]
        for pair in present.values():
            row += [fmt(pair["model"].get(key)), fmt((pair["baseline"] or {}).get(key))]
        rows.append(row)
    return "\n".join([f"{'#' * level} {name}", "", *_table(header, rows), ""])


def _pair_table(pair: dict[str, Any], rows: tuple[tuple[str, str], ...]) -> list[str]:
    base = pair["baseline"] or {}
    return _table(
        ["figure", "model", "majority baseline"],
        [[label, fmt(pair["model"].get(key)), fmt(base.get(key))] for key, label in rows],
    )


def _mb(pair: dict[str, Any], *path: str) -> str:
    """``model / baseline`` of the figure at ``path`` in each side of a pair."""

    def get(side: Any) -> Any:
        for key in path:
            side = side.get(key) if isinstance(side, dict) else None
        return side

    return f"{fmt(get(pair['model']))} / {fmt(get(pair['baseline']))}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _versions(versions: dict[str, str] | None) -> str:
    return ", ".join(f"{k.upper()} {v}" for k, v in (versions or {}).items()) or "?"
