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
    packed = write_pack(
        config, dataset, out, data_dir, max_rows, log=lambda m: typer.echo(m, err=True)
    )
    _travelling_size(out, sum(packed["bytes"].values()))


DEVICE_LIMIT = 64 * 2**20  # what travels to a device machine: the checkout and carried paths


def _travelling_size(out: Path, pack_bytes: int) -> None:
    """Say whether the checkout and the pack fit the device machine's 64 MiB together."""
    from vulntax.models.multitask.pack import repository_bytes

    found = repository_bytes(out.resolve().parent)
    if found is None:
        return
    root, tree, folders = found
    total = tree + pack_bytes
    typer.echo(
        f"with the checkout {root} ({tree / 2**20:.1f} MiB) the run carries "
        f"{total / 2**20:.1f} MiB (device limit {DEVICE_LIMIT / 2**20:.0f} MiB)",
        err=True,
    )
    if total > DEVICE_LIMIT:
        aside, over = [], total - DEVICE_LIMIT
        for name, size in sorted(folders.items(), key=lambda kv: -kv[1]):
            if over <= 0:
                break
            aside.append(f"{name} ({size / 2**20:.1f} MiB)")
            over -= size
        typer.echo(
            f"over the limit: move what the job does not need out of the checkout for the "
            f"run and back after it: {', '.join(aside) or 'the pack is too large alone'}",
            err=True,
        )


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
