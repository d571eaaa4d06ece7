"""``vulntax compose``: one model from saved ones (e.g. CWE from one, CVSS from another)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command()(compose)


def compose(
    part: list[str] = typer.Option(
        ...,
        "--part",
        metavar="NAME=DIR",
        help="A saved model and the name to give it; repeat. A shipped model's name "
        "(default) is referenced, not copied.",
    ),
    head: list[str] = typer.Option(
        ...,
        "--head",
        metavar="HEAD=NAME[:W,NAME:W]",
        help="Which part answers a head (cwe, cvss, capec, attack), or weighted parts to "
        "average, e.g. cvss=linear:0.5,lsnet:0.5; repeat for every head.",
    ),
    out: Path = typer.Option(..., "--out", help="Folder to write the composite model to."),
    name: str = typer.Option("vulntax-composite", help="The composite model's name."),
    version: str = typer.Option("1", help="The composite model's version."),
    force: bool = typer.Option(False, "--force", help="Overwrite a non-empty --out folder."),
) -> None:
    """Join saved models into one: each head answered by one part, or by an average of parts.

    The parts are copied into the composite, which then loads like any model
    (vulntax predict --model OUT); a part named by a shipped model's name (--part
    linear=default) is referenced instead, and the composite then needs that very model.
    Example: CWE, CAPEC and ATT&CK from the linear model, CVSS from an LSNet model:

        vulntax compose --part linear=runs/linear --part lsnet=runs/lsnet --out runs/combo
            --head cwe=linear --head capec=linear --head attack=linear --head cvss=lsnet
    """
    from vulntax.errors import UsageError
    from vulntax.models.composite import compose as build
    from vulntax.models.named import is_name

    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise UsageError(f"{out} exists and is not an empty folder; pass --force to overwrite it")
    parts: dict[str, Path | str] = {}
    for item in part:
        key, sep, folder = item.partition("=")
        if not sep or not key or not folder:
            raise UsageError(f"--part {item!r}: expected NAME=DIR")
        if key in parts:
            raise UsageError(f"--part {key!r} is given twice")
        parts[key] = folder if is_name(folder) else Path(folder)
    heads: dict[str, str | dict[str, float]] = {}
    for item in head:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"--head {item!r}: expected HEAD=NAME or HEAD=NAME:W,NAME:W")
        if key in heads:
            raise UsageError(f"--head {key!r} is given twice")
        heads[key] = _weights(item, value) if ":" in value else value
    build(out, parts, heads, name, version)
    typer.echo(f"wrote the composite model {name} {version} to {out}")


def _weights(item: str, value: str) -> dict[str, float]:
    from vulntax.errors import UsageError

    weights: dict[str, float] = {}
    for piece in value.split(","):
        key, sep, number = piece.partition(":")
        try:
            weights[key] = float(number)
        except ValueError:
            raise UsageError(f"--head {item!r}: {piece!r} is not NAME:WEIGHT") from None
        if not sep or not key:
            raise UsageError(f"--head {item!r}: {piece!r} is not NAME:WEIGHT")
    return weights
