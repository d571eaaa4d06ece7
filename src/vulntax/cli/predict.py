"""``vulntax predict``: one description, or a whole file of records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from vulntax.cli.options import MODEL_OPTION

_INPUT_HELP = (
    "NVD 2.0 feed (.json/.json.gz), CVE JSON 5 records, or JSONL/CSV with id and description; "
    "the format is detected."
)


def register(app: typer.Typer) -> None:
    app.command()(predict)


def predict(
    text: str = typer.Argument(None, help="A vulnerability description ('-' reads stdin)."),
    input: Path = typer.Option(None, "--input", "-i", help=_INPUT_HELP),
    output: Path = typer.Option(
        None, "--output", "-o", help="Where to write one line per record (default: stdout)."
    ),
    fmt: str = typer.Option(
        "jsonl",
        "--format",
        "-f",
        help="With --input: jsonl (prediction objects), csv (one row per record) or cve5 "
        "(CVE JSON 5 records enriched with a vulntax ADP container).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the prediction object as JSON."),
    model: str = MODEL_OPTION,
    data_dir: str = typer.Option(
        None, "--data-dir", help="Use this data folder's catalogs instead of the shipped snapshot."
    ),
    batch_size: int = typer.Option(512, help="Records per batch with --input."),
    workers: int = typer.Option(
        None,
        help="Processes classifying batches with --input (default: one per CPU; a model that "
        "runs on torch predicts in this process with its own threads).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Classify a description into CWE, CVSS v3.1, CAPEC and ATT&CK."""
    from vulntax.errors import UsageError

    if (text is None) == (input is None):
        raise UsageError("give either a description or --input FILE (see vulntax predict --help)")
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if workers is not None and not 1 <= workers <= 64:
        raise UsageError("--workers must be between 1 and 64")
    from vulntax.predictor import Predictor

    if input is not None:
        _predict_file(input, output, model, data_dir, batch_size, workers, quiet, fmt)
        return
    if fmt != "jsonl":
        raise UsageError("--format goes with --input; for one description use --json")
    if output is not None:
        raise UsageError("--output goes with --input; for one description use --json and redirect")
    if text == "-":
        text = sys.stdin.read()
    predictor = Predictor(model, data_dir=data_dir)
    prediction = predictor.predict(text)
    if as_json:
        typer.echo(json.dumps(prediction, ensure_ascii=False, indent=2))
        return
    from rich.console import Console

    from vulntax.render import prediction_panel

    Console().print(prediction_panel(prediction, predictor.catalog))


def _predict_file(
    path: Path,
    output: Path | None,
    model: str | None,
    data_dir: str | None,
    batch_size: int,
    workers: int | None,
    quiet: bool,
    fmt: str = "jsonl",
) -> None:
    from vulntax import output as formats
    from vulntax.batch import default_workers, items_of, predict_lines
    from vulntax.errors import InputError, UsageError
    from vulntax.predictor import Predictor
    from vulntax.progress import progress
    from vulntax.records import IngestReport

    if output is not None and output.exists() and output.resolve() == path.resolve():
        raise UsageError("--output must not be the --input file")
    if not path.exists():
        raise InputError("no such file or folder", path)
    from vulntax.runtime import for_prediction

    writer = formats.get(fmt)
    predictor = Predictor(model, data_dir=data_dir)
    for_prediction()  # before the workers fork: they inherit both settings
    # records travel with their text only where they carry something: metadata or JSON
    with_records = _carries_metadata(path) and (
        fmt == "cve5" or predictor.heads.metadata is not None
    )
    report = IngestReport()
    workers = default_workers() if workers is None else workers
    sink = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    written = 0
    sink.write(writer.header)
    try:
        with progress(not quiet and output is not None) as bar:
            task = bar.add_task(f"classifying {path.name}", total=None)

            def advance(count: int) -> None:
                nonlocal written
                written += count
                bar.advance(task, count)

            items = items_of(path, report, with_records, keep_raw=writer.needs_raw)
            if writer.screen is not None:
                items = map(writer.screen, items)
            result = predict_lines(
                predictor,
                items,
                sink,
                batch_size,
                workers,
                on_batch=advance,
                serialise=writer.serialise,
            )
    except InputError as exc:
        sink.flush()
        raise InputError(f"{exc} ({written:,} lines were written before this error)") from exc
    finally:
        if output is not None:
            sink.close()
    if output is not None:
        typer.echo(
            f"wrote {result.lines:,} predictions to {output} as {writer.name} "
            f"({result.errors:,} records could not be classified)",
            err=True,
        )


def _carries_metadata(path: Path) -> bool:
    """NVD and CVE JSON 5 input carry record metadata; JSONL and CSV only id and text."""
    from vulntax.errors import InputError
    from vulntax.ingest import detect_format
    from vulntax.records import InputFormat

    try:
        return detect_format(path) in (InputFormat.NVD, InputFormat.CVE5)
    except InputError:  # a folder of mixed formats (or an unreadable file: the reader says)
        return True
