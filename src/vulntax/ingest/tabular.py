"""Readers for plain records: JSONL objects and CSV rows with ``id`` and ``description``.

Keys and header names match case-insensitively (surrounding blanks ignored);
other keys and columns are ignored. A record without an id or a description is
a :class:`RecordError`. CSV is read with the standard ``csv`` module (quoted
multi-line fields, a UTF-8 byte-order mark); JSONL line by line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vulntax.errors import InputError
from vulntax.ingest import _io
from vulntax.ingest._common import (
    MISSING_DESCRIPTION,
    NOT_AN_OBJECT,
    BadRecord,
    record_id,
)
from vulntax.records import CveRecord, InputFormat, RecordError


def read_jsonl(path: str | Path) -> Iterator[CveRecord | RecordError]:
    """Records of a JSONL file of ``{"id": ..., "description": ...}`` objects."""
    name = str(path)
    for index, value in _io.json_lines(path):
        if isinstance(value, BadRecord):
            yield value.to_error(name, index)
            continue
        try:
            if not isinstance(value, dict):
                raise BadRecord(NOT_AN_OBJECT, f"a {type(value).__name__}")
            fields = {str(k).strip().lower(): v for k, v in value.items()}
            yield _record(fields.get("id"), fields.get("description"), InputFormat.JSONL)
        except BadRecord as exc:
            yield exc.to_error(name, index)


def read_csv(path: str | Path) -> Iterator[CveRecord | RecordError]:
    """Records of a CSV file whose header has ``id`` and ``description`` columns."""
    name = str(path)
    with _io.open_text(path) as text:
        rows = csv.reader(text)
        try:
            header = next(rows, None)
            columns = [column.strip().lower() for column in header or ()]
            if "id" not in columns or "description" not in columns:
                shown = ", ".join(repr(c) for c in columns[:8]) or "none"
                raise InputError(
                    f"CSV header lacks an 'id' or 'description' column (columns: {shown})", path
                )
            id_at = columns.index("id")
            text_at = columns.index("description")
            for index, row in enumerate(rows):
                if not row:
                    continue  # a blank line
                try:
                    rid = row[id_at] if id_at < len(row) else None
                    description = row[text_at] if text_at < len(row) else None
                    yield _record(rid, description, InputFormat.CSV)
                except BadRecord as exc:
                    yield exc.to_error(name, index)
        except csv.Error as exc:
            raise InputError(f"malformed CSV near line {rows.line_num} ({exc})", path) from None
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not UTF-8 text near line {rows.line_num} ({exc.reason}); save it as UTF-8",
                path,
            ) from None


def _record(rid: Any, description: Any, origin: InputFormat) -> CveRecord:
    text_id = record_id(rid)
    if not isinstance(description, str) or not description.strip():
        detail = "no description" if description is None else "description is empty"
        if description is not None and not isinstance(description, str):
            detail = f"description is a {type(description).__name__}"
        raise BadRecord(MISSING_DESCRIPTION, detail, text_id)
    return CveRecord(id=text_id, description=description.strip(), origin=origin)
