"""``vulntax ingest check`` and ``vulntax fetch nvd``: thin layers over :mod:`vulntax.ingest`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from vulntax.ingest import FileCheck

ingest_app = typer.Typer(
    help="Read vulnerability record files (NVD 2.0, CVE JSON 5, JSONL, CSV) and check them.",
    no_args_is_help=True,
)
fetch_app = typer.Typer(
    help="Download vulnerability records from online sources.", no_args_is_help=True
)

SHOWN_EXAMPLES = 5


def register(app: typer.Typer) -> None:
    app.add_typer(ingest_app, name="ingest")
    app.add_typer(fetch_app, name="fetch")


@ingest_app.command("check")
def check(
    paths: list[Path] = typer.Argument(
        ..., help="Files or folders to read (formats detected by content; .gz welcome)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Read inputs through and report, per file: format, records, skipped records by reason.

    Exits non-zero with a one-line error if a file cannot be read as a whole.
    """
    from vulntax.ingest import check as check_inputs

    results = check_inputs(paths)
    if as_json:
        typer.echo(json.dumps(_as_json(results), indent=2))
    else:
        _print_table(results)


@fetch_app.command("nvd")
def fetch_nvd(
    out: Path = typer.Option(..., "--out", help="Folder for the pages and state.json."),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Fetch records modified from this date (YYYY-MM-DD or ISO time, UTC). "
        "Default: where the last run into --out ended (its state.json).",
    ),
    until: str | None = typer.Option(
        None, "--until", help="Fetch records modified up to this date (default: now, UTC)."
    ),
    api_url: str = typer.Option(
        "https://services.nvd.nist.gov/rest/json/cves/2.0",
        "--api-url",
        hidden=True,
        help="Another endpoint speaking the NVD CVE API 2.0 (a mirror, a test server).",
    ),
) -> None:
    """Download CVE records from the NVD CVE API 2.0, by last-modified date.

    Pages are written as gzip NVD schema-2.0 files that `vulntax ingest check` and
    the dataset builder read. Set NVD_API_KEY for NVD's higher rate limit.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from vulntax.ingest import fetch

    start = fetch.parse_date(since, "--since") if since else None
    end = fetch.parse_date(until, "--until") if until else None
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    bar = Progress(*columns, console=Console(stderr=True))
    task = bar.add_task("NVD", total=None)

    def show(step: fetch.Progress) -> None:
        bar.start()  # on the first page only (a no-op after): errors before it print alone
        bar.update(
            task,
            description=f"window {step.window}/{step.windows} "
            f"{step.window_start:%Y-%m-%d}..{step.window_end:%Y-%m-%d}",
            completed=step.received,
            total=step.total,
        )

    try:
        summary = fetch.fetch_nvd(out, start, end, progress=show, url=api_url)
    finally:
        if bar.live.is_started:
            bar.stop()
    typer.echo(
        f"fetched {_count(summary.records, 'record')} in {_count(summary.pages, 'page')} "
        f"({_count(summary.windows, 'window')} of last-modified dates, "
        f"{fetch.api_time(summary.since)} .. {fetch.api_time(summary.until)}) "
        f"into {summary.out_dir}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _as_json(results: list[FileCheck]) -> dict[str, object]:
    files = []
    for result in results:
        entry = result.report.to_dict()
        entry.pop("files")
        files.append({"path": result.path, "format": result.format, **entry})
    return {
        "files": files,
        "records": sum(r.report.records for r in results),
        "skipped": sum(r.report.skipped for r in results),
    }


def _print_table(results: list[FileCheck]) -> None:
    from rich.console import Console
    from rich.table import Column, Table

    table = Table(
        Column("file", overflow="fold"),
        "format",
        Column("records", justify="right"),
        Column("skipped", justify="right"),
        "skip reasons",
    )
    for result in results:
        report = result.report
        reasons = "; ".join(f"{reason}: {n}" for reason, n in report.reasons.items())
        table.add_row(
            result.path,
            str(result.format or "-"),
            f"{report.records:,}",
            f"{report.skipped:,}",
            reasons,
        )
    if len(results) > 1:
        table.add_row(
            "total",
            "",
            f"{sum(r.report.records for r in results):,}",
            f"{sum(r.report.skipped for r in results):,}",
            "",
            style="bold",
        )
    console = Console()
    console.print(table)
    examples = [example for r in results for example in r.report.examples][:SHOWN_EXAMPLES]
    if examples:
        console.print("first skipped records:", highlight=False)
        for example in examples:
            console.print(f"  {example}", highlight=False, markup=False, soft_wrap=True)
