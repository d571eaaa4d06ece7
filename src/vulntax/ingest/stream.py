"""Reading any supported input: one file, or every supported file in a folder.

Each file's format is detected by content (:mod:`vulntax.ingest.detect`) and its
reader streams records. A record that cannot be read is yielded as a
:class:`~vulntax.records.RecordError` in its place; a file that cannot be read
raises :class:`~vulntax.errors.InputError` (records already yielded stay yielded).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vulntax.errors import InputError, UsageError
from vulntax.ingest import detect
from vulntax.ingest._common import NOT_A_RECORD_FILE
from vulntax.ingest.cve5 import read_cve5
from vulntax.ingest.nvd import read_nvd
from vulntax.ingest.tabular import read_csv, read_jsonl
from vulntax.records import CveRecord, IngestReport, InputFormat, RecordError

Reader = Callable[[Path, str | None], Iterator[CveRecord | RecordError]]

_READERS: dict[InputFormat, Reader] = {
    InputFormat.NVD: read_nvd,
    InputFormat.CVE5: read_cve5,
    InputFormat.JSONL: lambda path, layout: read_jsonl(path),
    InputFormat.CSV: lambda path, layout: read_csv(path),
}


def _read_cve5_raw(path: Path, layout: str | None) -> Iterator[CveRecord | RecordError]:
    return read_cve5(path, layout, keep_raw=True)


def read(
    path: str | Path,
    fmt: InputFormat | str | None = None,
    report: IngestReport | None = None,
    keep_raw: bool = False,
) -> Iterator[CveRecord | RecordError]:
    """Stream the records of a file, or of every supported file under a folder (sorted).

    ``fmt`` asserts the format: a file holding another format is an
    :class:`InputError`. In a folder, a JSON file that holds no records at all
    (e.g. ``delta.json`` in a cvelistV5 clone) is one :class:`RecordError`
    ("not a record file"), and files with other suffixes (README, LICENSE) are
    not inputs. ``report``, if given, is filled as the stream is consumed. ``keep_raw``
    keeps each CVE JSON 5 record's JSON in ``CveRecord.raw`` (for enrichment).
    """
    expected = _as_format(fmt)
    path = Path(path)
    if not path.is_dir():
        yield from _read_file(path, detect.require(path), expected, report, keep_raw)
        return
    files = detect.input_files(path)
    if not files:
        raise InputError(f"no input files in this folder ({detect.SUPPORTED})", path)
    for file in files:
        sniffed = detect.sniff(file)
        if sniffed.bookkeeping:
            continue
        if sniffed.format is None:
            error = RecordError(str(file), 0, None, NOT_A_RECORD_FILE, sniffed.seen)
            if report is not None:
                report.files.append(str(file))
                report.add_error(error)
            yield error
            continue
        yield from _read_file(file, sniffed, expected, report, keep_raw)


def read_records(
    paths: str | Path | Iterable[str | Path],
    report: IngestReport,
    fmt: InputFormat | str | None = None,
) -> Iterator[CveRecord]:
    """The good records of one or more inputs; the others are counted in ``report``."""
    if isinstance(paths, str | Path):
        paths = [paths]
    for path in paths:
        for item in read(path, fmt, report):
            if not isinstance(item, RecordError):
                yield item


@dataclass
class FileCheck:
    """What reading one file gave: its format and its report."""

    path: str
    format: InputFormat | None
    report: IngestReport = field(default_factory=IngestReport)


def check(paths: Iterable[str | Path]) -> list[FileCheck]:
    """Read every input through (files of folders one by one) and report on each file."""
    checks: list[FileCheck] = []
    for path in paths:
        path = Path(path)
        files = detect.input_files(path) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise InputError(f"no input files in this folder ({detect.SUPPORTED})", path)
        for file in files:
            sniffed = detect.sniff(file) if path.is_dir() else detect.require(file)
            if sniffed.bookkeeping:
                continue
            entry = FileCheck(str(file), sniffed.format)
            if sniffed.format is None:
                entry.report.files.append(str(file))
                entry.report.add_error(
                    RecordError(str(file), 0, None, NOT_A_RECORD_FILE, sniffed.seen)
                )
            else:
                for _ in _read_file(file, sniffed, None, entry.report):
                    pass
            checks.append(entry)
    return checks


def _read_file(
    path: Path,
    sniffed: detect.Sniffed,
    expected: InputFormat | None,
    report: IngestReport | None,
    keep_raw: bool = False,
) -> Iterator[CveRecord | RecordError]:
    assert sniffed.format is not None
    if expected is not None and sniffed.format is not expected:
        raise InputError(f"expected {expected} input, but the file holds {sniffed.format}", path)
    reader = _READERS[sniffed.format]
    if keep_raw and sniffed.format is InputFormat.CVE5:
        reader = _read_cve5_raw
    if report is None:
        yield from reader(path, sniffed.layout)
        return
    report.files.append(str(path))
    for item in reader(path, sniffed.layout):
        if isinstance(item, RecordError):
            report.add_error(item)
        else:
            report.records += 1
        yield item


def _as_format(fmt: InputFormat | str | None) -> InputFormat | None:
    if fmt is None or isinstance(fmt, InputFormat):
        return fmt
    try:
        return InputFormat(fmt.lower())
    except ValueError:
        known = ", ".join(f.value for f in InputFormat)
        raise UsageError(f"unknown input format {fmt!r} (known: {known})") from None
