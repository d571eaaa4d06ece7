"""Options that several commands share, defined once."""

from __future__ import annotations

import typer

# a str, not a Path: typer's Path would turn ./accurate into accurate (the shipped model's name)
MODEL_OPTION = typer.Option(
    None,
    "--model",
    "-m",
    help="A model directory, or a model shipped with vulntax by name: 'default' (the "
    "default) or 'accurate' (where installed); ./NAME is the folder NAME.",
)
