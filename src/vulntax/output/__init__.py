"""Output formats of batch prediction: JSON lines, CSV rows, enriched CVE JSON 5 records.

A writer is a :class:`Format`: an optional header written once, and a function
that serialises a batch of (input item, prediction) pairs to bytes in input
order. :func:`get` returns one by name. The formats themselves live in
:mod:`vulntax.output.csv_rows` and :mod:`vulntax.output.cve5`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from vulntax.errors import UsageError

# what a batch serialiser receives: the input items (None where the reader failed) and the
# prediction (or error) object of each, in input order
Serialiser = Callable[[Sequence[Any], Sequence[dict[str, Any]]], bytes]

FORMATS = ("jsonl", "csv", "cve5")


@dataclass(frozen=True)
class Format:
    name: str
    header: bytes
    serialise: Serialiser
    needs_raw: bool = False  # keep each CVE JSON 5 input record whole (for enrichment)
    # an input item this format cannot write becomes its error object before prediction
    # (so it is neither predicted for nothing nor missing from the error count)
    screen: Callable[[Any], Any] | None = None


def jsonl_lines(items: Sequence[Any], results: Sequence[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in results)


def get(name: str) -> Format:
    """The output format called ``name`` (one of :data:`FORMATS`)."""
    if name == "jsonl":
        return Format("jsonl", b"", jsonl_lines)
    if name == "csv":
        from vulntax.output import csv_rows

        return Format("csv", csv_rows.header(), csv_rows.rows)
    if name == "cve5":
        from vulntax.output import cve5

        return Format("cve5", b"", cve5.records, needs_raw=True, screen=cve5.screen)
    raise UsageError(f"unknown output format {name!r} (choose from {', '.join(FORMATS)})")
