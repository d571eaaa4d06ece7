"""Helpers that wrap real records the way each input format ships them."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

Item = dict[str, Any]


def feed_bytes(items: list[Item], **envelope: Any) -> bytes:
    """Items in the NVD schema-2.0 feed / API page envelope, as NVD writes it (compact)."""
    page = {
        "resultsPerPage": len(items),
        "startIndex": 0,
        "totalResults": len(items),
        "format": "NVD_CVE",
        "version": "2.0",
        "timestamp": "2025-08-30T00:00:00.000",
        **envelope,
        "vulnerabilities": items,
    }
    return json.dumps(page, separators=(",", ":")).encode()


def write(path: Path, data: bytes) -> Path:
    """``data`` into ``path``, gzip-compressed if the name ends with .gz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def jsonl_bytes(values: list[Any]) -> bytes:
    return "".join(json.dumps(v) + "\n" for v in values).encode()


def csv_bytes(header: list[str], rows: list[list[str]], bom: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode() + buffer.getvalue().encode()


def english(item: Item) -> str:
    """The first English description of an NVD item, as the reader should return it."""
    return next(d["value"] for d in item["cve"]["descriptions"] if d["lang"] == "en").strip()
