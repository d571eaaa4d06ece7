"""``vulntax dataset build|stats``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer

app = typer.Typer(help="Build and inspect labelled datasets.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="dataset")


def _date(value: str, option: str) -> date:
    from vulntax.errors import UsageError

    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"{option}: not a date (YYYY-MM-DD): {value!r}") from exc


@app.command()
def build(
    out: Path = typer.Option(
        ..., "--out", help="Folder to write examples.parquet and manifest.json to."
    ),
    data_dir: str = typer.Option(
        None,
        "--data-dir",
        help="Data folder (nvd/, cve5/, catalogs/, attack_gold/); default $VULNTAX_DATA_DIR.",
    ),
    validation_start: str = typer.Option(
        "2022-01-01", help="First publication date of the validation split."
    ),
    test_start: str = typer.Option("2022-07-01", help="First publication date of the test split."),
    near_threshold: float = typer.Option(
        0.9, help="Jaccard similarity at which descriptions count as near-duplicates."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Turn NVD and CVE JSON 5 records into labelled, deduplicated, time-split examples."""
    from vulntax.dataset.build import build_dataset
    from vulntax.dataset.split import SplitPlan
    from vulntax.errors import UsageError

    if not 0.5 <= near_threshold <= 1.0:
        raise UsageError("--near-threshold must be between 0.5 and 1.0")
    plan = SplitPlan(
        _date(validation_start, "--validation-start"), _date(test_start, "--test-start")
    )
    manifest = build_dataset(
        data_dir, out, plan=plan, near_threshold=near_threshold, show_progress=not quiet
    )
    by_split = manifest["counts"]["by_split"]
    typer.echo(
        f"wrote {manifest['counts']['examples']:,} examples to {out} "
        f"(train {by_split.get('train', 0):,}, validation {by_split.get('validation', 0):,}, "
        f"test {by_split.get('test', 0):,}) in {manifest['build_seconds']} s, "
        f"peak memory {manifest['peak_rss_mb']:,} MB"
    )


@app.command()
def stats(
    dataset: Path = typer.Argument(..., help="A folder written by `vulntax dataset build`."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
    top: int = typer.Option(15, help="How many CWE labels to list."),
) -> None:
    """Show a dataset's counts and label distributions as tables."""
    from vulntax.dataset.stats import render
    from vulntax.dataset.store import load_dataset

    ds = load_dataset(dataset, verify=False)
    if as_json:
        typer.echo(json.dumps(ds.manifest, indent=2))
        return
    from rich.console import Console

    console = Console()
    for item in render(ds, top=top):
        console.print(item)
