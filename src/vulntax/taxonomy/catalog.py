"""One object for all taxonomies: :class:`Catalog` (CWE, CAPEC, ATT&CK and their graph).

A catalog comes either from MITRE's own files in a data directory
(:meth:`Catalog.from_mitre`, a few seconds) or from a snapshot
(:meth:`Catalog.from_snapshot`, milliseconds). vulntax ships a snapshot at
``vulntax/taxonomy/data/catalog.json.gz``, made by
``vulntax taxonomy snapshot --data-dir DIR``, so that prediction needs no data
directory. :func:`load_catalog` caches one catalog per source and process.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from vulntax import datadir
from vulntax.errors import CatalogError
from vulntax.taxonomy.attack import AttackCatalog
from vulntax.taxonomy.capec import CapecCatalog
from vulntax.taxonomy.cwe import CweCatalog
from vulntax.taxonomy.graph import CrossGraph

#: the snapshot shipped inside the package
SHIPPED_SNAPSHOT = Path(__file__).resolve().parent / "data" / "catalog.json.gz"
#: the ``generated_by.command`` of snapshots the CLI writes
SNAPSHOT_COMMAND = "vulntax taxonomy snapshot --data-dir DATA_DIR"


class Catalog:
    """CWE, CAPEC and ATT&CK catalogs, their cross-taxonomy graph, and where they came from."""

    def __init__(
        self,
        cwe: CweCatalog,
        capec: CapecCatalog,
        attack: AttackCatalog,
        sources: dict[str, dict[str, str]],
        origin: str,
    ) -> None:
        self.cwe = cwe
        self.capec = capec
        self.attack = attack
        #: per taxonomy, the MITRE file it was read from: {"file": ..., "sha256": ...}
        self.sources = sources
        #: where this object was loaded from (a data directory or a snapshot file)
        self.origin = origin

    @cached_property
    def graph(self) -> CrossGraph:
        return CrossGraph(self.cwe, self.capec, self.attack)

    @property
    def versions(self) -> dict[str, str]:
        return {"cwe": self.cwe.version, "capec": self.capec.version, "attack": self.attack.version}

    def __repr__(self) -> str:
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        return f"<Catalog {versions} from {self.origin}>"

    # -- MITRE's files -------------------------------------------------------------------

    @classmethod
    def from_mitre(cls, data_dir: str | Path | None) -> Catalog:
        """Parse MITRE's CWE XML, CAPEC and ATT&CK bundles under ``data_dir/catalogs``.

        ``data_dir`` None means ``$VULNTAX_DATA_DIR``; the newest release of each
        file wins (:func:`vulntax.datadir.newest`).
        """
        from vulntax.taxonomy.attack import parse_attack_stix
        from vulntax.taxonomy.capec import parse_capec_stix
        from vulntax.taxonomy.cwe_xml import parse_cwe_xml

        root = datadir.resolve(data_dir)
        files = {
            "cwe": datadir.newest(root, datadir.CWE_XML),
            "capec": datadir.newest(root, datadir.CAPEC_STIX),
            "attack": datadir.newest(root, datadir.ATTACK_STIX),
        }
        sources = {
            name: {"file": path.relative_to(root).as_posix(), "sha256": _sha256(path)}
            for name, path in files.items()
        }
        return cls(
            parse_cwe_xml(files["cwe"]),
            parse_capec_stix(files["capec"]),
            parse_attack_stix(files["attack"]),
            sources,
            origin=str(root),
        )

    # -- snapshots -----------------------------------------------------------------------

    def to_snapshot(self, path: str | Path, command: str = SNAPSHOT_COMMAND) -> Path:
        """Write this catalog's snapshot to ``path``; ``command`` says what produced it."""
        from vulntax.taxonomy import snapshot

        target = Path(path)
        generated_by: dict[str, Any] = {
            "command": command,
            "inputs": {k: dict(v) for k, v in self.sources.items()},
            "note": "derived data: regenerate with the command above, never edit by hand",
        }
        snapshot.write(snapshot.encode(self.cwe, self.capec, self.attack, generated_by), target)
        return target

    @classmethod
    def from_snapshot(cls, path: str | Path) -> Catalog:
        """Load a snapshot written by :meth:`to_snapshot`; CatalogError if it is not one."""
        from vulntax.taxonomy import snapshot

        source = Path(path)
        document = snapshot.read(source)
        cwe, capec, attack = snapshot.decode(document, source)
        inputs = document.get("generated_by", {}).get("inputs", {})
        if not isinstance(inputs, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("file"), str) for v in inputs.values()
        ):
            raise CatalogError(f"{source}: invalid taxonomy snapshot: bad generated_by.inputs")
        sources = {
            str(k): {"file": v["file"], "sha256": str(v.get("sha256", ""))}
            for k, v in inputs.items()
        }
        return cls(cwe, capec, attack, sources, origin=str(source))


def load_catalog(data_dir: str | Path | None = None) -> Catalog:
    """The catalog for ``data_dir`` (MITRE's files there), else the shipped snapshot.

    Cached per process: a second call with the same folder costs nothing.
    """
    if data_dir is None:
        return _cached(None)
    return _cached(str(datadir.resolve(data_dir).resolve()))


def catalog_for(data_dir: str | Path | None) -> Catalog:
    """What commands use: ``data_dir``, else ``$VULNTAX_DATA_DIR``, else the shipped snapshot."""
    chosen = data_dir if data_dir not in (None, "") else os.environ.get(datadir.ENV_VAR)
    return load_catalog(chosen or None)


@lru_cache(maxsize=4)
def _cached(data_dir: str | None) -> Catalog:
    if data_dir is not None:
        return Catalog.from_mitre(data_dir)
    if not SHIPPED_SNAPSHOT.is_file():
        raise CatalogError(
            f"the taxonomy snapshot shipped with vulntax is missing ({SHIPPED_SNAPSHOT}): "
            "reinstall vulntax, or pass --data-dir DIR to read MITRE's files"
        )
    return Catalog.from_snapshot(SHIPPED_SNAPSHOT)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc}") from exc
    return digest.hexdigest()
