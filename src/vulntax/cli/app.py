"""The typer application: one sub-app per command group, joined with ``add_typer``."""

from __future__ import annotations

import typer

from vulntax import __version__

app = typer.Typer(
    name="vulntax",
    help="Classify vulnerability descriptions into CWE, CVSS v3.1, CAPEC and MITRE ATT&CK.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vulntax {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Classify vulnerability descriptions into CWE, CVSS v3.1, CAPEC and MITRE ATT&CK.

    Add --debug anywhere to see full tracebacks.
    """


def _register() -> None:
    # Each module defines `app` (a command group) or `register(app)` (top-level commands).
    from vulntax.cli import commands

    for module in commands.MODULES:
        module.register(app)


_register()
