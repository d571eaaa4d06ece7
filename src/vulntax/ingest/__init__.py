"""Reading vulnerability records from the formats their publishers distribute.

``read(path)`` streams :class:`~vulntax.records.CveRecord` objects (and a
:class:`~vulntax.records.RecordError` in place of each record that cannot be
read) from NVD schema 2.0 feeds and API pages, CVE JSON 5 records, and plain
JSONL/CSV files with ``id`` and ``description``, plain or gzip-compressed.
``detect_format(path)`` says which format a file holds. See ``docs/ingest.md``.

The online NVD client lives in :mod:`vulntax.ingest.fetch` (imported on use).
"""

from __future__ import annotations

from vulntax.ingest.detect import SUPPORTED, detect_format, input_files
from vulntax.ingest.stream import FileCheck, check, read, read_records
from vulntax.records import CveRecord, IngestReport, InputFormat, RecordError

__all__ = [
    "SUPPORTED",
    "CveRecord",
    "FileCheck",
    "IngestReport",
    "InputFormat",
    "RecordError",
    "check",
    "detect_format",
    "input_files",
    "read",
    "read_records",
]
