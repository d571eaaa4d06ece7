"""Opening input files, plain or gzip-compressed, with clear errors.

Compression is recognised by content (the gzip magic bytes), not by the name.
Every way a file can fail to read (missing, a folder, no permission, a
truncated or corrupt gzip stream, an I/O error) becomes an
:class:`~vulntax.errors.InputError` naming the file, also when the damage is
only noticed in the middle of the stream, long after the file was opened.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from vulntax.errors import InputError, TruncatedInputError
from vulntax.ingest._common import INVALID_JSON, UTF8_BOM, BadRecord

GZIP_MAGIC = b"\x1f\x8b"
BUFFER_SIZE = 1 << 20  # 1 MiB reads: few Python-level calls per file


def open_binary(path: str | Path) -> io.BufferedReader:
    """``path`` opened for binary reading, decompressed if it is gzip; close it when done."""
    path = Path(path)
    try:
        raw = open(path, "rb", buffering=0)  # noqa: SIM115 (wrapped and returned)
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", path) from None
    except PermissionError:
        raise InputError("permission denied", path) from None
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror or exc}", path) from None
    try:
        magic = raw.read(2)
        raw.seek(0)
    except OSError as exc:
        raw.close()
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from None
    inner: BinaryIO = raw
    compressed = magic == GZIP_MAGIC
    if compressed:
        inner = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    return io.BufferedReader(_Checked(inner, raw, path, compressed), buffer_size=BUFFER_SIZE)


def open_text(path: str | Path) -> io.TextIOWrapper:
    """``path`` as UTF-8 text (a leading BOM dropped), newlines left as they are (for csv)."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline="")


def read_head(path: str | Path, size: int) -> bytes:
    """The first ``size`` bytes of the (decompressed) content of ``path``.

    A truncated gzip file gives what decompresses before the cut (the records there are
    still readable; the full read reports the truncation once it reaches it).
    """
    chunks: list[bytes] = []
    got = 0
    with open_binary(path) as stream:
        try:
            while got < size and (chunk := stream.read1(min(1 << 16, size - got))):
                chunks.append(chunk)
                got += len(chunk)
        except TruncatedInputError:
            if not chunks:
                raise
    return b"".join(chunks)


class _Checked(io.RawIOBase):
    """A raw stream that turns read failures into :class:`InputError` naming the file."""

    def __init__(self, inner: BinaryIO, raw: BinaryIO, path: Path, compressed: bool):
        super().__init__()
        self._inner = inner
        self._raw = raw
        self._path = path
        self._compressed = compressed

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            if not self._compressed:
                return self._raw.readinto(buffer)  # type: ignore[attr-defined]
            # read1: one decompressed chunk per call, so that whatever precedes a truncation
            # reaches the caller before the error (read/readinto would loop and lose it)
            data = self._inner.read1(len(buffer))  # type: ignore[attr-defined]
            buffer[: len(data)] = data
            return len(data)
        except EOFError:
            raise TruncatedInputError(
                "truncated gzip stream: the file ends before its compressed data does "
                "(an interrupted download or copy; fetch the file again)",
                self._path,
            ) from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise InputError(f"corrupt gzip data ({exc})", self._path) from None
        except OSError as exc:
            raise InputError(f"read error: {exc.strerror or exc}", self._path) from None

    def close(self) -> None:
        if not self.closed:
            try:
                if self._compressed:
                    self._inner.close()
            finally:
                self._raw.close()
        super().close()


def json_lines(path: str | Path) -> Iterator[tuple[int, Any]]:
    """``(line index, parsed value)`` for each non-blank line of a JSONL file.

    A line that is not valid JSON gives a :class:`BadRecord` as its value: one bad
    line is one bad record, not a bad file.
    """
    with open_binary(path) as stream:
        for index, line in enumerate(stream):
            if index == 0 and line.startswith(UTF8_BOM):
                line = line[len(UTF8_BOM) :]
            if not line.strip():
                continue
            try:
                yield index, json.loads(line)
            except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for bad UTF-8
                yield index, BadRecord(INVALID_JSON, _short(exc))


def json_document(path: str | Path) -> Any:
    """The one JSON value a (small) file holds; malformed JSON is an :class:`InputError`."""
    with open_binary(path) as stream:
        data = stream.read()
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    try:
        return json.loads(data)
    except ValueError as exc:
        raise InputError(f"malformed JSON ({_short(exc)})", path) from None


def json_values(path: str | Path, layout: str) -> Iterator[tuple[int, Any]]:
    """The values of a JSONL file (``layout="lines"``) or the one value of a JSON document."""
    if layout == "lines":
        yield from json_lines(path)
    else:
        yield 0, json_document(path)


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
