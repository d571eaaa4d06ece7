"""``vulntax evaluate``: a model's figures on a dataset split or a labelled file."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vulntax.cli.options import MODEL_OPTION


def register(app: typer.Typer) -> None:
    app.command()(evaluate)


def evaluate(
    model: str = MODEL_OPTION,
    dataset: Path = typer.Option(
        None,
        "--dataset",
        help="A folder written by `vulntax dataset build`: evaluate its --split. With --input, "
        "only its train split is read, for the majority baseline.",
    ),
    split: str = typer.Option(
        None,
        "--split",
        help="The dataset split to evaluate: train, validation or test (default: test).",
    ),
    input: Path = typer.Option(
        None,
        "--input",
        "-i",
        help="Evaluate on an NVD 2.0 or CVE JSON 5 file (or folder) instead, labelled as the "
        "dataset builder labels records.",
    ),
    out: Path = typer.Option(
        None,
        "--out",
        help="Folder for report.json, report.md and the PNG plots (default: only print the "
        "summary).",
    ),
    data_dir: str = typer.Option(
        None,
        "--data-dir",
        help="Data folder whose catalogs to use (default: the shipped snapshot); with --input "
        "also its attack_gold/ mappings (else $VULNTAX_DATA_DIR's).",
    ),
    batch_size: int = typer.Option(512, help="Records per prediction batch."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole report as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Score a model's CWE, CVSS, CAPEC and ATT&CK predictions against gold labels.

    Every figure is shown beside a majority-class baseline; docs/evaluation.md
    defines them.
    """
    from vulntax.errors import UsageError

    if (dataset is None) and (input is None):
        raise UsageError(
            "evaluate needs --dataset DIR or --input FILE (see vulntax evaluate --help)"
        )
    if input is not None and split is not None:
        raise UsageError("--split chooses a dataset split; it does not go with --input")
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if out is not None and out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file, not a folder")  # say so before a long run

    from vulntax.dataset.store import load_dataset
    from vulntax.evaluate import baseline as baselines
    from vulntax.evaluate import evaluate_dataset, evaluate_file
    from vulntax.predictor import Predictor

    predictor = Predictor(model, data_dir=data_dir)
    if input is None:
        report = evaluate_dataset(
            predictor, dataset, split or "test", not quiet, batch_size=batch_size
        )
    else:
        baseline = (
            baselines.Baseline.from_dataset(load_dataset(dataset), predictor.catalog)
            if dataset is not None
            else baselines.from_model_dir(model)
        )
        report = evaluate_file(
            predictor, input, not quiet, batch_size=batch_size, baseline=baseline, data_dir=data_dir
        )
    if report["run"].get("warning"):
        typer.echo(f"warning: {report['run']['warning']}", err=True)
    if out is not None:
        from vulntax.evaluate.plots import write_plots
        from vulntax.evaluate.report import write_report

        written = [*write_report(report, out), *write_plots(report, out)]
        typer.echo(f"wrote {', '.join(p.name for p in written)} to {out}", err=True)
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.markdown import Markdown

    from vulntax.evaluate.report import summary_markdown

    Console().print(Markdown(summary_markdown(report)))
