"""Snapshots: round trip, the shipped file cannot drift, corrupt files are clear errors."""

from __future__ import annotations

import dataclasses
import gzip
import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vulntax.cli.app import app
from vulntax.errors import CatalogError
from vulntax.taxonomy import Catalog
from vulntax.taxonomy.catalog import SHIPPED_SNAPSHOT, SNAPSHOT_COMMAND
from vulntax.taxonomy.snapshot import TABLES


def _answers(catalog: Catalog) -> dict[str, Any]:
    """Every look-up of every id, as plain data."""
    cwe, capec, attack, graph = catalog.cwe, catalog.capec, catalog.attack, catalog.graph
    out: dict[str, Any] = {
        "versions": catalog.versions,
        "sources": catalog.sources,
        "roots": cwe.roots(),
        "capec_roots": capec.roots(),
        "tactics": attack.tactics(),
        "revocations": attack.revocations,
        "dropped": graph.dropped,
    }
    for entry in cwe:
        i = entry.id
        out[i] = (
            entry,
            cwe.parents(i),
            cwe.children(i),
            cwe.path(i),
            cwe.ancestors(i),
            cwe.descendants(i),
            cwe.in_view_1000(i),
            cwe.nearest_allowed(i),
            cwe.map_label(i),
            graph.cwe_to_capec(i),
            graph.cwe_to_attack(i),
        )
    for pattern in capec.entries(include_deprecated=True):
        i = pattern.id
        out[i] = (
            pattern,
            capec.path(i),
            capec.children(i),
            capec.ancestors(i),
            graph.capec_to_attack(i),
            graph.capec_to_cwe(i),
            i in capec,
        )
    for technique in attack.techniques(include_revoked=True):
        i = technique.id
        out[i] = (
            technique,
            attack.resolve(i),
            attack.revoked_by(i),
            attack.subtechniques(i),
            graph.attack_to_capec(i),
            graph.attack_to_cwe(i),
        )
    return out


def test_round_trip_answers_every_look_up_alike(catalog: Catalog, tmp_path: Path) -> None:
    path = catalog.to_snapshot(tmp_path / "catalog.json.gz")
    loaded = Catalog.from_snapshot(path)
    assert loaded.versions == {"cwe": "4.14", "capec": "3.9", "attack": "18.1"}
    assert _answers(loaded) == _answers(catalog)
    # and a snapshot of the snapshot is the same file
    again = loaded.to_snapshot(tmp_path / "again.json.gz")
    assert again.read_bytes() == path.read_bytes()


def test_shipped_snapshot_equals_what_the_command_produces(
    data_dir: Path, tmp_path: Path, shipped: Catalog, catalog: Catalog
) -> None:
    out = tmp_path / "fresh.json.gz"
    result = CliRunner().invoke(
        app, ["taxonomy", "snapshot", "--data-dir", str(data_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "CWE 4.14, CAPEC 3.9, ATTACK 18.1" in result.output
    fresh = json.loads(gzip.decompress(out.read_bytes()))
    committed = json.loads(gzip.decompress(SHIPPED_SNAPSHOT.read_bytes()))
    assert fresh == committed, (
        "the shipped snapshot is stale: run "
        "`vulntax taxonomy snapshot --data-dir ../shared/data` and commit the result"
    )
    assert _answers(shipped) == _answers(catalog)


def test_snapshot_says_what_generated_it(catalog: Catalog) -> None:
    document = json.loads(gzip.decompress(SHIPPED_SNAPSHOT.read_bytes()))
    generated_by = document["generated_by"]
    assert generated_by["command"] == SNAPSHOT_COMMAND
    assert generated_by["inputs"] == catalog.sources
    assert generated_by["inputs"]["cwe"]["file"] == "catalogs/cwec_v4.14.xml.zip"
    assert len(generated_by["inputs"]["attack"]["sha256"]) == 64


def test_shipped_snapshot_is_small_and_loads_fast() -> None:
    assert SHIPPED_SNAPSHOT.stat().st_size < 1_000_000
    Catalog.from_snapshot(SHIPPED_SNAPSHOT)  # warm the imports
    start = time.perf_counter()
    Catalog.from_snapshot(SHIPPED_SNAPSHOT)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5  # target 150 ms on a laptop; generous for a loaded CI runner


def test_snapshot_tables_follow_the_dataclasses() -> None:
    for cls, types in TABLES:
        assert [f.name for f in dataclasses.fields(cls)] == list(types)


def _valid_document() -> dict[str, Any]:
    return json.loads(gzip.decompress(SHIPPED_SNAPSHOT.read_bytes()))


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "snapshot.json.gz"
    path.write_bytes(gzip.compress(json.dumps(document).encode()))
    return path


def _broken(change: str) -> Any:
    doc = _valid_document()
    if change == "list":
        return [doc]
    if change == "foreign":
        return {"type": "bundle", "objects": []}
    if change == "format_version":
        doc["format_version"] = 99
    elif change == "no cwe":
        del doc["cwe"]
    elif change == "no entries":
        del doc["capec"]["entries"]
    elif change == "short row":
        doc["cwe"]["entries"][0] = doc["cwe"]["entries"][0][:-1]
    elif change == "wrong type":
        doc["cwe"]["entries"][3][6] = "yes"  # in_view_1003 must be a bool
    elif change == "columns":
        doc["attack"]["columns"] = list(reversed(doc["attack"]["columns"]))
    elif change == "dangling edge":
        doc["cwe"]["edges"].append(["CWE-79", "CWE-99999", False])
    elif change == "revoked_by":
        doc["attack"]["revoked_by"] = [1, 2]
    elif change == "unknown revocation":
        doc["attack"]["revoked_by"]["T9999"] = "T1190"
    elif change == "no version":
        doc["capec"]["version"] = ""
    elif change == "null inputs":
        doc["generated_by"]["inputs"] = {"cwe": None}
    return doc


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("list", "not a vulntax taxonomy snapshot"),
        ("foreign", "not a vulntax taxonomy snapshot"),
        ("format_version", "format version 99"),
        ("no cwe", "the 'cwe' section is missing"),
        ("no entries", "missing field 'entries'"),
        ("short row", r"cwe.entries\[0\] is not a row of 11 values"),
        ("wrong type", r"cwe.entries\[3\] holds 'yes'"),
        ("columns", "attack.columns"),
        ("dangling edge", "CWE-99999"),
        ("revoked_by", "revoked_by is not a map"),
        ("unknown revocation", "T9999"),
        ("no version", "capec.version"),
        ("null inputs", "generated_by.inputs"),
    ],
)
def test_an_invalid_document_is_a_catalog_error(tmp_path: Path, change: str, message: str) -> None:
    path = _write(tmp_path, _broken(change))
    with pytest.raises(CatalogError, match=message) as caught:
        Catalog.from_snapshot(path)
    assert str(path) in str(caught.value)


def test_corrupt_files_are_catalog_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json.gz"
    garbage.write_bytes(b"\x00\x01 not a gzip file at all")
    truncated = tmp_path / "truncated.json.gz"
    truncated.write_bytes(SHIPPED_SNAPSHOT.read_bytes()[:2000])
    not_json = tmp_path / "text.json.gz"
    not_json.write_bytes(gzip.compress(b"hello, world"))
    not_utf8 = tmp_path / "latin.json.gz"
    not_utf8.write_bytes(gzip.compress(b'{"format": "\xff"}'))
    for path in (garbage, truncated, not_json, not_utf8):
        with pytest.raises(CatalogError, match="not a readable taxonomy snapshot"):
            Catalog.from_snapshot(path)
    with pytest.raises(CatalogError, match="does not exist"):
        Catalog.from_snapshot(tmp_path / "missing.json.gz")
