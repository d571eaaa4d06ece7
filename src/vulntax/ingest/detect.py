"""Which supported format a file holds, judged by its content (not only its name).

The first MiB of the (decompressed) content decides:

- JSON whose first line is a complete value is read as *lines* (JSONL); otherwise
  as one *document*, whose top-level keys are peeked at with ijson without
  reading the rest.
- An object with ``vulnerabilities`` (and ``format`` "NVD_CVE" where given) is an
  NVD schema-2.0 feed or API page; objects with ``cve`` are NVD items, one per line.
- Objects with ``cveMetadata`` or ``dataType`` "CVE_RECORD" are CVE JSON 5
  records (one per file, or one per line).
- JSONL objects with ``id`` and ``description`` keys (any case) are plain records.
- Text whose header line has ``id`` and ``description`` columns is CSV.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vulntax.errors import InputError
from vulntax.ingest import _io
from vulntax.ingest._common import UTF8_BOM
from vulntax.records import InputFormat

SUPPORTED = (
    "supported: NVD schema 2.0 (a JSON object with 'vulnerabilities', format NVD_CVE), "
    "CVE JSON 5 records ('cveMetadata': one .json file, JSONL, or a folder of them), "
    "JSONL with 'id' and 'description' keys, CSV with 'id' and 'description' columns; "
    "each may be gzip-compressed"
)
DATA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv")
HEAD_SIZE = 1 << 20
PEEK_EVENTS = 200_000  # enough for the top-level keys of any record file; bounded for others
FETCH_STATE_KEY = "vulntax_state"  # marks the state file `vulntax fetch nvd` keeps beside its pages

Layout = Literal["feed", "lines", "document", "csv"]


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What a file holds: a format and how it is laid out, or ``None`` and what was seen."""

    format: InputFormat | None
    layout: Layout | None = None
    seen: str = ""  # for an unrecognised file: what it looked like, for the error message
    bookkeeping: bool = False  # vulntax's own fetch state file (skipped in folders)


def detect_format(path: str | Path) -> InputFormat:
    """The format of a file, or of every supported file in a folder (one format for all)."""
    path = Path(path)
    if path.is_dir():
        counts: Counter[InputFormat] = Counter()
        for file in input_files(path):
            sniffed = sniff(file)
            if sniffed.format is not None:
                counts[sniffed.format] += 1
        if not counts:
            raise InputError(f"no supported input files in this folder ({SUPPORTED})", path)
        if len(counts) > 1:
            mix = ", ".join(f"{fmt} ({n} files)" for fmt, n in counts.most_common())
            raise InputError(f"folder mixes formats: {mix}; read them one format at a time", path)
        return next(iter(counts))
    return require(path).format  # type: ignore[return-value]


def require(path: str | Path) -> Sniffed:
    """:func:`sniff`, with an :class:`InputError` for a file that holds no supported format."""
    sniffed = sniff(path)
    if sniffed.format is None:
        raise InputError(f"unrecognised input: {sniffed.seen}; {SUPPORTED}", path)
    return sniffed


def sniff(path: str | Path) -> Sniffed:
    """What ``path`` holds; ``Sniffed(None, seen=...)`` if no supported format.

    Unreadable, empty or malformed files raise :class:`InputError`, as does a CSV
    file that lacks an ``id`` or ``description`` column.
    """
    path = Path(path)
    head = _io.read_head(path, HEAD_SIZE)
    if head.startswith(UTF8_BOM):
        head = head[len(UTF8_BOM) :]
    text = head.lstrip()
    if not text:
        raise InputError("file is empty", path)
    if text[:1] in (b"{", b"["):
        return _sniff_json(path, head)
    return _sniff_csv(path, head)


def input_files(folder: Path) -> list[Path]:
    """Files under ``folder`` (recursively) with a data suffix, sorted; hidden names skipped."""
    found = []
    for file in folder.rglob("*"):
        relative = file.relative_to(folder).parts
        if any(part.startswith(".") for part in relative) or not file.is_file():
            continue
        name = file.name.lower().removesuffix(".gz")
        if name.endswith(DATA_SUFFIXES):
            found.append(file)
    return sorted(found)


def _sniff_json(path: Path, head: bytes) -> Sniffed:
    newline = head.find(b"\n")
    first = head if newline < 0 else head[:newline]
    value: Any = None
    lines = False
    if newline >= 0 or len(head) < HEAD_SIZE:  # the first line is all there
        try:
            value = json.loads(first)
            lines = True
        except ValueError:
            value = None
    if lines:
        if not isinstance(value, dict):
            return Sniffed(None, seen=f"JSON whose first line is a {_kind(value)}")
        keys: dict[str, Any] = value
    else:
        peeked = _peek_keys(path)
        if peeked is None:
            return Sniffed(None, seen="a JSON document that is not an object")
        keys = peeked
        # No newline in the first MiB: compact JSON, not pretty-printed. Read it line by line
        # (a JSONL file with a long first record, or a one-line document: the same then).
        lines = newline < 0 and len(head) >= HEAD_SIZE
    return _classify(keys, lines)


def _classify(keys: dict[str, Any], lines: bool) -> Sniffed:
    if keys.get(FETCH_STATE_KEY) is not None:
        return Sniffed(None, seen="the state file of `vulntax fetch nvd`", bookkeeping=True)
    if "vulnerabilities" in keys:
        fmt = keys.get("format", "NVD_CVE")
        if fmt != "NVD_CVE":
            return Sniffed(None, seen=f"a JSON object with 'vulnerabilities' but format {fmt!r}")
        return Sniffed(InputFormat.NVD, "feed")
    if _is_map(keys.get("cve")):
        return Sniffed(InputFormat.NVD, "lines" if lines else "document")
    if keys.get("dataType") == "CVE_RECORD" or "cveMetadata" in keys:
        return Sniffed(InputFormat.CVE5, "lines" if lines else "document")
    lowered = {k.lower() for k in keys}
    if {"id", "description"} <= lowered:
        if lines:
            return Sniffed(InputFormat.JSONL, "lines")
        return Sniffed(None, seen="one JSON object with id and description (write one per line)")
    shown = ", ".join(repr(k) for k in list(keys)[:8]) or "no keys"
    where = "first line" if lines else "top level"
    return Sniffed(None, seen=f"a JSON object with keys {shown} at its {where}")


class _Map:
    """Stands for a nested object whose contents the key peek skipped."""

    def __repr__(self) -> str:
        return "{...}"


class _Array:
    def __repr__(self) -> str:
        return "[...]"


_MAP = _Map()
_ARRAY = _Array()


def _is_map(value: Any) -> bool:
    return isinstance(value, dict) or value is _MAP


def _peek_keys(path: Path) -> dict[str, Any] | None:
    """Top-level keys of a JSON document (scalar values kept, containers marked), streamed.

    ``None`` if the document is not an object.
    """
    import ijson

    keys: dict[str, Any] = {}
    key: str | None = None
    with _io.open_binary(path) as stream:
        if stream.peek(3).startswith(UTF8_BOM):
            stream.read(3)
        events: Iterator[tuple[str, str, Any]] = ijson.parse(stream, use_float=True)
        try:
            for count, (prefix, event, value) in enumerate(events):
                if count == 0 and event != "start_map":
                    return None
                if prefix == "" and event == "map_key":
                    key = value
                elif prefix == key and event in ("start_map", "start_array"):
                    keys[key] = _MAP if event == "start_map" else _ARRAY
                    if key in ("vulnerabilities", "cve", "cveMetadata"):
                        break  # decisive, and maybe big: stop here
                elif prefix == key and event in ("string", "number", "boolean", "null"):
                    keys[key] = value
                    if key == "dataType":
                        break
                if (prefix == "" and event == "end_map") or count >= PEEK_EVENTS:
                    break
        except ijson.JSONError as exc:
            raise InputError(f"malformed JSON ({_ijson_message(exc)})", path) from None
    return keys


def _ijson_message(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "JSON array"
    return "string" if isinstance(value, str) else "JSON value"


def _sniff_csv(path: Path, head: bytes) -> Sniffed:
    text = head.decode("utf-8", errors="replace")
    first_line = text.splitlines()[0] if text else ""
    try:
        header = next(csv.reader([first_line]))
    except (csv.Error, StopIteration):
        header = []
    columns = {name.strip().lower() for name in header}
    if {"id", "description"} <= columns:
        return Sniffed(InputFormat.CSV, "csv")
    named_csv = path.name.lower().removesuffix(".gz").endswith(".csv")
    if named_csv or len(header) > 1:
        missing = [repr(c) for c in ("id", "description") if c not in columns]
        what = " and ".join(missing) + (" columns" if len(missing) > 1 else " column")
        shown = ", ".join(repr(c.strip()) for c in header[:8])
        raise InputError(
            f"CSV header lacks the {what} (header: {shown}); "
            "vulntax needs 'id' and 'description' columns",
            path,
        )
    return Sniffed(None, seen=f"text starting {first_line[:40]!r}")
