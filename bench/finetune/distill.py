"""Distillation into the default linear model: plain vs teacher-mixed fits, chosen on validation.

    python bench/finetune/distill.py --teacher runs/ft/model --dataset runs/dataset-p2 \\
        --data-dir ../shared/data --out /tmp/distill [--alpha 0.3 0.7] [--kinds soft fill] \\
        [--soft-alpha 0.3] [--fill-alpha 0.3 1.0] [--newest 50000] [--reuse] [--test]

The teacher (any vulntax model directory) labels every training description once; the labels
are cached under OUT/cache (keyed by the teacher's files and the texts), so a rerun with other
alphas costs only the fits (--reuse keeps variants already fitted in OUT). For each kind and
alpha (:class:`vulntax.models.distill.Mix`) a linear model directory is written to
OUT/<kind>-<alpha>, beside OUT/plain (alpha 0: the plain linear fit, row for row), each
evaluated on the calibration split (validation). Cost: a ``soft`` fit has about three rows per
taught description and LinearSVC converges more slowly as alpha grows (full protocol 2, newest
50,000 rows taught, 2 busy vCPUs: soft 0.3 took 8 min, soft 0.7 unfinished after 19);
``fill`` adds at most one row per description lacking gold. The variant with the best mean of
CWE strict top-1 and CVSS mean per-metric accuracy wins if it beats plain (ties keep plain);
only with --test is the test split evaluated, for plain and the winner.
Raw figures: bench/results/distill-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
COLUMNS = {  # summary key -> column title
    "cwe_top1": "CWE top-1",
    "cwe_hierarchy": "CWE hier.",
    "cvss_mean_metric_accuracy": "CVSS acc",
    "cvss_exact_vector": "exact vec",
    "cvss_base_score_mae": "MAE",
}


def score(summary: dict[str, Any]) -> float:
    """What the variants are chosen by (on validation only)."""
    return (summary["cwe_top1"]["model"] + summary["cvss_mean_metric_accuracy"]["model"]) / 2


def table(
    rows: dict[str, dict[str, Any]], baseline: dict[str, Any], seconds: dict[str, float]
) -> str:
    head = f"| variant | {' | '.join(COLUMNS.values())} | score | fit s |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 3)]
    for name, summary in rows.items():
        cells = [f"{summary[k]['model']:.4f}" for k in COLUMNS]
        lines.append(f"| {name} | {' | '.join(cells)} | {score(summary):.4f} | {seconds[name]} |")
    base = [f"{baseline[k]['baseline']:.4f}" for k in COLUMNS]
    lines.append(f"| majority baseline | {' | '.join(base)} | | |")
    return "\n".join(lines)


def main() -> None:
    from vulntax.evaluate import evaluate_dataset
    from vulntax.models.distill import Mix
    from vulntax.models.distill_run import fit_and_save, open_session
    from vulntax.predictor import Predictor
    from vulntax.train import load_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True, help="any vulntax model directory")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--config", default=str(REPO / "configs" / "linear.toml"))
    parser.add_argument("--alpha", type=float, nargs="+", default=[0.3, 0.7])
    parser.add_argument("--kinds", nargs="+", default=["soft", "fill"], choices=["soft", "fill"])
    parser.add_argument("--soft-alpha", type=float, nargs="+", help="soft: instead of --alpha")
    parser.add_argument("--fill-alpha", type=float, nargs="+", help="fill: instead of --alpha")
    parser.add_argument(
        "--reuse", action="store_true", help="keep variants whose OUT/<name> has the same mix"
    )
    parser.add_argument("--heads", nargs="+", default=["cwe", "cvss"], choices=["cwe", "cvss"])
    parser.add_argument("--top-k", type=int, default=3, help="soft: teacher labels per text")
    parser.add_argument("--confidence", type=float, default=0.5, help="fill: from this p")
    parser.add_argument("--newest", type=int, default=None, help="teach the newest N rows only")
    parser.add_argument("--cache", default=None, help="teacher label cache (default OUT/cache)")
    parser.add_argument("--test", action="store_true", help="also evaluate the winner on test")
    parser.add_argument("--results", default=None, help="JSON path (default bench/results/...)")
    parser.add_argument("--note", default="", help="recorded with the figures")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args()

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    out = Path(args.out)
    config = load_config(args.config)
    config.data.refit_splits = []  # measured as fitted on train; refit is the release step
    session = open_session(
        config,
        args.dataset,
        args.teacher,
        args.data_dir,
        args.cache or out / "cache",
        show_progress=not args.quiet,
        log=log,
        newest=args.newest,
    )
    prepare_seconds = round(time.perf_counter() - started, 1)
    mixes = {"plain": Mix("soft", 0.0)}
    for kind in args.kinds:
        for alpha in getattr(args, f"{kind}_alpha") or args.alpha:
            mix = Mix(
                kind,  # type: ignore[arg-type]
                alpha,
                top_k=args.top_k,
                confidence=args.confidence,
                heads=tuple(args.heads),
                newest=args.newest,
            )
            mixes[mix.name] = mix
    reports: dict[str, dict[str, Any]] = {}
    for name, mix in mixes.items():
        if args.reuse and (reused := _fitted(out / name, session, mix)) is not None:
            log(f"--- {name}: reusing {out / name}")
            reports[name] = reused
            continue
        log(f"--- {name}")
        reports[name] = fit_and_save(session, mix, out / name, log=log)
    summaries = {name: r["summary"] for name, r in reports.items()}
    seconds = {name: r["fit_seconds"] for name, r in reports.items()}
    best = max(summaries, key=lambda n: (score(summaries[n]), n == "plain"))
    winner = best if score(summaries[best]) > score(summaries["plain"]) else "plain"

    split = config.data.calibration_split
    print(f"\n{split} split of {args.dataset}; teacher {args.teacher}\n")
    print(table(summaries, summaries["plain"], seconds))
    print(
        f"\nwinner on {split}: {winner}"
        + (
            f" (score {score(summaries[winner]):.4f} vs plain {score(summaries['plain']):.4f})"
            if winner != "plain"
            else " (no variant beats the plain fit: keep the plain model)"
        )
    )
    test: dict[str, Any] = {}
    if args.test:
        for name in dict.fromkeys(["plain", winner]):
            predictor = Predictor(out / name, data_dir=args.data_dir)
            report = evaluate_dataset(predictor, session.dataset, "test", show_progress=False)
            test[name] = report["summary"]
        print(f"\ntest split (for the variant chosen on {split}, beside plain)\n")
        print(table(test, test["plain"], {n: seconds[n] for n in test}))

    date = datetime.now(UTC).strftime("%Y-%m-%d")
    results = Path(args.results or REPO / "bench" / "results" / f"distill-{date}.json")
    figures = {
        "command": " ".join(sys.argv),
        "note": args.note,
        "teacher": {"path": args.teacher, "sha256": session.teacher.teacher},
        "dataset": args.dataset,
        "config": args.config,
        "training_examples": len(session.train),
        "selection": f"max mean(cwe_top1, cvss_mean_metric_accuracy) on {split}",
        "winner": winner,
        "mixes": {n: {**vars(m), "heads": list(m.heads)} for n, m in mixes.items()},
        split: {n: {"summary": s, "fit_seconds": seconds[n]} for n, s in summaries.items()},
        "test": test or None,
        "seconds": {"prepare": prepare_seconds, "total": round(time.perf_counter() - started, 1)},
        "hardware": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"\nraw figures: {results}")


def _fitted(folder: Path, session: Any, mix: Any) -> dict[str, Any] | None:
    """The metrics of a variant fitted before with the same teacher, dataset and mix."""
    from vulntax.models.distill import distill_meta

    try:
        config = json.loads((folder / "config.json").read_text())
        metrics: dict[str, Any] = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    same = config.get("distillation") == distill_meta(mix, session.teacher_dir, session.teacher)
    sha = session.dataset.manifest["files"]["examples.parquet"]["sha256"]
    return metrics if same and config["dataset"]["examples_sha256"] == sha else None


if __name__ == "__main__":
    main()
