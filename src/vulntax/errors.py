"""The one exception tree of vulntax.

Every error a user can cause (a bad file, an unknown id, a corrupt model, a
misspelled config key) is a :class:`VulntaxError`. The CLI catches it once at the
edge and prints its message on one line; the HTTP service maps it to a 4xx
answer. Anything else that escapes is a bug.

Messages are written for the person at the terminal: they name the file (and
the record, where one is at fault) and say what to do where that is not obvious.
"""

from __future__ import annotations

from pathlib import Path


class VulntaxError(Exception):
    """Root of every error vulntax raises on purpose."""

    #: process exit status the CLI uses for this kind of error
    exit_code: int = 1
    #: HTTP status the service answers with
    http_status: int = 400


class UsageError(VulntaxError):
    """A command-line or API argument is missing or out of range."""

    exit_code = 2


class ConfigError(VulntaxError):
    """A configuration file or object is invalid (unknown key, bad value)."""

    exit_code = 2


class DataDirError(VulntaxError):
    """The data directory is missing, or lacks a file vulntax needs."""


class InputError(VulntaxError):
    """An input file cannot be read as a whole (truncated, malformed, wrong schema).

    ``path`` names the file; ``record`` names the record at fault where there is one.
    """

    def __init__(self, message: str, path: str | Path | None = None, record: str | None = None):
        self.path = None if path is None else str(path)
        self.record = record
        where = ""
        if self.path is not None:
            where = self.path if record is None else f"{self.path} (record {record})"
            where += ": "
        super().__init__(f"{where}{message}")


class TruncatedInputError(InputError):
    """A compressed input ends before its data does (an interrupted download or copy)."""


class CatalogError(VulntaxError):
    """A MITRE catalog file (CWE, CAPEC, ATT&CK) is missing or cannot be parsed."""


class UnknownIdError(VulntaxError):
    """A CWE / CAPEC / ATT&CK id that the catalog does not define."""

    http_status = 404


class InvalidVectorError(VulntaxError):
    """A CVSS vector string that is malformed or lacks a mandatory metric."""


class DatasetError(VulntaxError):
    """A dataset directory is missing, incomplete or inconsistent with its manifest."""


class ModelError(VulntaxError):
    """A model directory is missing, corrupt, untrusted, or of an unknown kind."""


class MissingExtraError(ModelError):
    """An optional package that a model kind (or command) needs is not installed.

    ``extra`` names the vulntax extra that brings it (``pip install 'vulntax[EXTRA]'``).
    """

    def __init__(self, package: str, extra: str, needed_by: str):
        self.package = package
        self.extra = extra
        super().__init__(
            f"{needed_by} needs the package {package!r}, which is not installed: "
            f"pip install 'vulntax[{extra}]'"
        )


class FetchError(VulntaxError):
    """The online NVD API could not be reached or answered with an error."""

    http_status = 502
