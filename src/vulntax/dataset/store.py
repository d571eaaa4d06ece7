"""A built dataset on disk: ``examples.parquet`` plus ``manifest.json``.

The manifest records the parquet file's sha256; :func:`load_dataset` checks it,
so a truncated or edited file is reported instead of silently used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vulntax.dataset.split import SPLITS, UNDATED
from vulntax.errors import DatasetError

EXAMPLES = "examples.parquet"
MANIFEST = "manifest.json"
FORMAT = "vulntax-dataset"
FORMAT_VERSION = 1

# The eight CVSS v3 base metrics are stored one column each, named by their abbreviation.
CVSS_COLUMNS = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Dataset:
    path: Path
    manifest: dict[str, Any]

    def columns(
        self, split: str | Sequence[str] | None = None, columns: Sequence[str] | None = None
    ) -> dict[str, list[Any]]:
        """The examples of one split (or several, or all) as ``{column: values}``."""
        import pyarrow.parquet as pq

        splits = [split] if isinstance(split, str) else list(split or [])
        for name in splits:
            if name not in (*SPLITS, UNDATED):
                raise DatasetError(f"unknown split {name!r}: choose from {', '.join(SPLITS)}")
        filters = [("split", "in", splits)] if splits else None
        try:
            table = pq.read_table(
                self.path / EXAMPLES, columns=list(columns) if columns else None, filters=filters
            )
        except Exception as exc:  # pyarrow raises many types for a damaged file
            raise DatasetError(f"{self.path / EXAMPLES}: cannot read: {exc}") from exc
        return table.to_pydict()

    def count(self, split: str) -> int:
        return int(self.manifest["counts"]["by_split"].get(split, 0))


def write_dataset(out_dir: Path, table: Any, manifest: dict[str, Any]) -> None:
    """Write ``table`` (a pyarrow Table) and the manifest; the manifest last."""
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    examples = out_dir / EXAMPLES
    tmp = examples.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(examples)
    manifest["files"] = {
        EXAMPLES: {
            "sha256": sha256_file(examples),
            "rows": table.num_rows,
            "bytes": examples.stat().st_size,
        }
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")


def load_dataset(path: str | Path, verify: bool = True) -> Dataset:
    """Open a dataset directory written by ``vulntax dataset build``."""
    folder = Path(path)
    manifest_path = folder / MANIFEST
    if not folder.is_dir():
        raise DatasetError(
            f"{folder}: no such dataset directory (build one with `vulntax dataset build`)"
        )
    if not manifest_path.is_file():
        raise DatasetError(f"{folder}: not a dataset directory ({MANIFEST} is missing)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError as exc:
        raise DatasetError(f"{manifest_path}: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetError(f"{manifest_path}: not a vulntax dataset manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DatasetError(
            f"{manifest_path}: dataset format version {manifest.get('format_version')} is not "
            f"supported (this vulntax reads version {FORMAT_VERSION}); rebuild the dataset"
        )
    examples = folder / EXAMPLES
    if not examples.is_file():
        raise DatasetError(f"{folder}: {EXAMPLES} is missing")
    if verify:
        expected = manifest.get("files", {}).get(EXAMPLES, {}).get("sha256")
        if expected != sha256_file(examples):
            raise DatasetError(
                f"{examples}: checksum does not match the manifest (file damaged or edited); "
                "rebuild the dataset"
            )
    return Dataset(folder, manifest)
