"""``vulntax train``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command()(train)


def train(
    dataset: Path = typer.Option(
        None, "--dataset", help="A folder written by `vulntax dataset build`."
    ),
    out: Path = typer.Option(None, "--out", help="Folder to save the model to."),
    config: Path = typer.Option(
        None, "--config", help="Training config (TOML or JSON); default: the linear model's."
    ),
    data_dir: str = typer.Option(
        None, "--data-dir", help="Catalogs to train with (default: the shipped snapshot)."
    ),
    print_config: str = typer.Option(
        None, "--print-config", metavar="KIND", help="Print a model kind's default config."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite a non-empty --out folder."),
) -> None:
    """Train a model on a built dataset; save it with its config, metrics and model card."""
    from vulntax.errors import UsageError
    from vulntax.train import config_template, load_config, train_model

    if print_config:
        typer.echo(config_template(print_config), nl=False)
        return
    if dataset is None or out is None:
        raise UsageError("train needs --dataset DIR and --out DIR (see vulntax train --help)")
    if out.exists() and any(out.iterdir()) and not force:
        raise UsageError(f"{out} is not empty; pass --force to overwrite it")
    cfg = load_config(config)
    metrics = train_model(
        cfg, dataset, out, data_dir=data_dir, log=lambda m: typer.echo(m, err=True)
    )
    for name, row in metrics.get("summary", {}).items():
        typer.echo(f"{name}: {row.get('model')} (majority baseline {row.get('baseline')})")
