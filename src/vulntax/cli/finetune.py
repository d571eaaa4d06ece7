"""``vulntax finetune pack`` / ``unpack``: a fine-tuning run on a rented GPU, in one job.

The job itself runs on the GPU machine without this CLI (typer may not be installed
there): ``PYTHONPATH=src python -m vulntax.models.multitask.job --pack PACK --out OUT``.
See docs/finetune.md.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    name="finetune",
    help="Pack a fine-tuning run for a GPU machine; unpack the model it sends back.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app)


@app.command()
def pack(
    dataset: Path = typer.Option(
        ..., "--dataset", help="A folder written by `vulntax dataset build`."
    ),
    out: Path = typer.Option(..., "--out", help="The pack folder (keep it out of git)."),
    config: Path = typer.Option(
        Path("configs/finetune-gpu.toml"), "--config", help="A multitask fine-tuning config."
    ),
    data_dir: Path = typer.Option(
        None, "--data-dir", help="The catalogs the dataset was built with."
    ),
    max_rows: int = typer.Option(
        None, "--max-rows", min=10, help="Keep only N rows of each split (a small test pack)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite a non-empty --out folder."),
) -> None:
    """Write what the GPU job needs: tokenised splits, targets, a trimmed fp16 MiniLM."""
    from vulntax.errors import UsageError
    from vulntax.models.multitask.pack import pack as write_pack

    if out.exists() and any(out.iterdir()) and not force:
        raise UsageError(f"{out} is not empty; pass --force to overwrite it")
    write_pack(config, dataset, out, data_dir, max_rows, log=lambda m: typer.echo(m, err=True))


@app.command()
def unpack(
    results: Path = typer.Option(..., "--results", help="The files the GPU job wrote."),
    out: Path = typer.Option(..., "--out", help="The model directory to write."),
    dataset: Path = typer.Option(
        None, "--dataset", help="Evaluate on this dataset's validation split (metrics.json)."
    ),
    data_dir: Path = typer.Option(
        None, "--data-dir", help="The catalogs the dataset was built with."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite a non-empty --out folder."),
) -> None:
    """Join the job's weight pieces (sha256-checked) into a model directory."""
    from vulntax.errors import UsageError
    from vulntax.models.multitask.pack import unpack as join

    if out.exists() and any(out.iterdir()) and not force:
        raise UsageError(f"{out} is not empty; pass --force to overwrite it")
    result = join(results, out)
    typer.echo(f"model written to {out} (trained on {result.get('device')})", err=True)
    if dataset is not None:
        from vulntax.train import evaluate_saved

        metrics = evaluate_saved(out, dataset, data_dir)
        for name, row in metrics.get("summary", {}).items():
            typer.echo(f"{name}: {row.get('model')} (majority baseline {row.get('baseline')})")
