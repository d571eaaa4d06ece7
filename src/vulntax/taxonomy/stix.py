"""Reading the STIX 2.1 bundles MITRE publishes (CAPEC, ATT&CK), plain or gzipped."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from vulntax.errors import CatalogError


def read_bundle(path: Path) -> list[dict[str, Any]]:
    """The ``objects`` of the STIX bundle in ``path`` (``.json`` or ``.json.gz``)."""
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as handle:
            bundle = json.load(handle)
    except (OSError, EOFError, ValueError) as exc:  # bad gzip, truncated file, bad JSON
        raise CatalogError(f"{path}: cannot read the STIX bundle: {exc}") from exc
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
        raise CatalogError(f"{path}: not a STIX bundle (no top-level type 'bundle')")
    objects = bundle.get("objects")
    if not isinstance(objects, list) or not all(isinstance(o, dict) for o in objects):
        raise CatalogError(f"{path}: the STIX bundle has no list of objects")
    return objects


def external_ids(obj: dict[str, Any], source: str) -> list[str]:
    """``external_id`` of each external reference of ``obj`` whose source is ``source``."""
    found = []
    for ref in obj.get("external_references") or ():
        if isinstance(ref, dict) and ref.get("source_name") == source and ref.get("external_id"):
            found.append(str(ref["external_id"]))
    return found


def external_url(obj: dict[str, Any], source: str) -> str | None:
    """The URL of ``obj``'s first external reference from ``source``."""
    for ref in obj.get("external_references") or ():
        if isinstance(ref, dict) and ref.get("source_name") == source and ref.get("url"):
            return str(ref["url"])
    return None
