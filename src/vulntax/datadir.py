"""Where the shared data lives: an explicit path, or ``$VULNTAX_DATA_DIR``.

There is no silent default: a user who has not said where the data is gets an
error that tells them how to say it. Tests and benchmarks pass
``../shared/data`` explicitly.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from vulntax.errors import DataDirError

ENV_VAR = "VULNTAX_DATA_DIR"

# Catalog files are found by pattern so that a newer MITRE release dropped in the
# same folder is picked up; where several match, the highest version wins.
CWE_XML = "catalogs/cwec_v*.xml*"
CAPEC_STIX = "catalogs/stix-capec-*.json*"
ATTACK_STIX = "catalogs/enterprise-attack-*.json*"
NVD_GLOB = "nvd/nvdcve-2.0-*.json.gz"
CVE5_GLOB = "cve5/*.jsonl.gz"
ATTACK_GOLD_DIR = "attack_gold"
CWE_REMAP_CSV = "cwe_remap/top25-mitre-mapping-analysis-2023.csv"


def resolve(data_dir: str | Path | None) -> Path:
    """The data directory to use: ``data_dir`` if given, else ``$VULNTAX_DATA_DIR``."""
    chosen = data_dir if data_dir not in (None, "") else os.environ.get(ENV_VAR)
    if not chosen:
        raise DataDirError(
            f"no data directory given: pass --data-dir DIR or set {ENV_VAR} "
            "(the folder holding nvd/, cve5/ and catalogs/)"
        )
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataDirError(f"data directory {path} does not exist or is not a folder")
    return path


def require(data_dir: Path, relative: str) -> Path:
    """``data_dir / relative``, or a clear error naming what is missing."""
    path = data_dir / relative
    if not path.exists():
        raise DataDirError(f"{path} is missing from the data directory {data_dir}")
    return path


def glob(data_dir: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` under ``data_dir``, sorted; an error if there are none."""
    found = sorted(data_dir.glob(pattern))
    if not found:
        raise DataDirError(f"no files match {pattern} under the data directory {data_dir}")
    return found


def newest(data_dir: Path, pattern: str) -> Path:
    """The file matching ``pattern`` with the highest version number in its name."""

    def key(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.name))

    return max(glob(data_dir, pattern), key=key)
