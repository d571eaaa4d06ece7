"""``vulntax cwe|capec|attack show``, ``vulntax cvss score`` and ``vulntax taxonomy snapshot``.

Thin layers: the facts come from :mod:`vulntax.taxonomy.describe` and
:mod:`vulntax.taxonomy.cvss`; this module only prints them (a rich panel, or
JSON with ``--json``). Catalog commands read MITRE's files from ``--data-dir``
(else ``$VULNTAX_DATA_DIR``), else the snapshot shipped with vulntax.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

cwe_app = typer.Typer(help="Look up CWE weaknesses, categories and views.", no_args_is_help=True)
capec_app = typer.Typer(help="Look up CAPEC attack patterns.", no_args_is_help=True)
attack_app = typer.Typer(help="Look up MITRE ATT&CK Enterprise techniques.", no_args_is_help=True)
cvss_app = typer.Typer(help="Score and explain CVSS v3.0/v3.1 vectors.", no_args_is_help=True)
taxonomy_app = typer.Typer(help="Manage the taxonomy catalogs.", no_args_is_help=True)

DATA_DIR_HELP = (
    "Folder holding catalogs/ with MITRE's files (else $VULNTAX_DATA_DIR, "
    "else the snapshot shipped with vulntax)."
)
DataDirOption = typer.Option(None, "--data-dir", help=DATA_DIR_HELP, show_default=False)
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a panel.")
JsonSummaryOption = typer.Option(False, "--json", help="Print a JSON summary of what was written.")
SnapshotDataDirOption = typer.Option(
    None,
    "--data-dir",
    help="Folder holding catalogs/ with MITRE's files (else $VULNTAX_DATA_DIR).",
    show_default=False,
)
OutOption = typer.Option(
    None, "--out", help="Where to write (default: the snapshot shipped in the package)."
)
USAGE_STYLE = {"Discouraged": "bold yellow", "Prohibited": "bold red", "Allowed": "green"}


def register(app: typer.Typer) -> None:
    app.add_typer(cwe_app, name="cwe")
    app.add_typer(capec_app, name="capec")
    app.add_typer(attack_app, name="attack")
    app.add_typer(cvss_app, name="cvss")
    app.add_typer(taxonomy_app, name="taxonomy")


@cwe_app.command("show")
def cwe_show(
    cwe_id: str = typer.Argument(..., metavar="CWE_ID", help="e.g. CWE-79 or 79"),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """A CWE entry: its View-1000 path, relations, mapping usage and CAPEC/ATT&CK links."""
    from vulntax.taxonomy import catalog_for
    from vulntax.taxonomy.describe import cwe_info

    info = cwe_info(catalog_for(data_dir), cwe_id)
    if as_json:
        _print_json(info)
        return
    usage = info["usage"] or "-"
    rows: list[tuple[str, Any]] = [
        ("name", info["name"]),
        ("kind", info["kind"]),
        ("abstraction", info["abstraction"] or "-"),
        ("status", info["status"]),
        ("usage", _styled(usage, USAGE_STYLE.get(usage.split("-")[0], ""))),
        ("View 1003 (NVD)", "member" if info["in_view_1003"] else "not a member"),
        ("path (View 1000)", _path(info["path"]) if info["path"] else "not in View 1000"),
    ]
    if info["other_parents"]:
        rows.append(("other parents", _refs(info["other_parents"])))
    if info["children"]:
        rows.append(("children", _refs(info["children"])))
    if info["replaced_by"]:
        rows.append(("replaced by", _refs([info["replaced_by"]])))
    if info["suggestions"]:
        rows.append(("suggestions", _refs(info["suggestions"])))
    if info["members"]:
        rows.append(("members", _refs(info["members"])))
    label = info["label"]
    rows.append(("as a label", f"{label['mapped'] or 'dropped'}  (rule {label['rule']})"))
    rows.append(("CAPEC", _refs(info["capec"]) or "-"))
    rows.append(("ATT&CK (via CAPEC)", _refs(info["attack"]) or "-"))
    _panel(info["id"], rows, info["catalog"])


@capec_app.command("show")
def capec_show(
    capec_id: str = typer.Argument(..., metavar="CAPEC_ID", help="e.g. CAPEC-66 or 66"),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """A CAPEC attack pattern: its hierarchy, related CWEs and ATT&CK techniques."""
    from vulntax.taxonomy import catalog_for
    from vulntax.taxonomy.describe import capec_info

    info = capec_info(catalog_for(data_dir), capec_id)
    if as_json:
        _print_json(info)
        return
    status = info["status"] + ("  (deprecated)" if info["deprecated"] else "")
    rows: list[tuple[str, Any]] = [
        ("name", info["name"]),
        ("abstraction", info["abstraction"]),
        ("status", _styled(status, "bold red" if info["deprecated"] else "")),
        ("path", _path(info["path"])),
    ]
    if info["children"]:
        rows.append(("children", _refs(info["children"])))
    rows.append(("CWE", _refs(info["cwe"]) or "-"))
    rows.append(("ATT&CK", _refs(info["attack"]) or "-"))
    if info["url"]:
        rows.append(("url", info["url"]))
    _panel(info["id"], rows, info["catalog"])


@attack_app.command("show")
def attack_show(
    technique_id: str = typer.Argument(..., metavar="TECHNIQUE_ID", help="e.g. T1190, T1059.001"),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """An ATT&CK technique: tactics, parent, revocation and related CAPEC / CWE."""
    from vulntax.taxonomy import catalog_for
    from vulntax.taxonomy.describe import attack_info

    info = attack_info(catalog_for(data_dir), technique_id)
    if as_json:
        _print_json(info)
        return
    state = "current"
    if info["revoked"]:
        state = "revoked"
    elif info["deprecated"]:
        state = "deprecated"
    tactics = ", ".join(f"{t['name']} ({t['id'] or t['shortname']})" for t in info["tactics"])
    rows: list[tuple[str, Any]] = [
        ("name", info["name"]),
        ("status", _styled(state, "" if state == "current" else "bold red")),
        ("tactics", tactics or "-"),
    ]
    if info["parent"]:
        rows.append(("parent", _refs([info["parent"]])))
    if info["subtechniques"]:
        rows.append(("sub-techniques", _refs(info["subtechniques"])))
    if info["revoked_by"]:
        rows.append(("revoked by", _refs([info["revoked_by"]])))
    if state != "current":
        current = _refs([info["current"]]) if info["current"] else "none (no replacement)"
        rows.append(("current technique", current))
    rows.append(("CAPEC", _refs(info["capec"]) or "-"))
    rows.append(("CWE (via CAPEC)", _refs(info["cwe"]) or "-"))
    if info["url"]:
        rows.append(("url", info["url"]))
    _panel(info["id"], rows, info["catalog"])


@cvss_app.command("score")
def cvss_score(
    vector: str = typer.Argument(..., help="e.g. CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
    as_json: bool = JsonOption,
) -> None:
    """Base score, severity and each base metric of a CVSS v3.0/v3.1 vector."""
    from vulntax.taxonomy import cvss

    result = cvss.score(vector)
    described = cvss.describe(result.vector)
    if as_json:
        payload = result.to_dict()
        payload["metric_names"] = {m: {"name": n, "value": vn} for m, n, _, vn in described}
        _print_json(payload)
        return
    rows: list[tuple[str, Any]] = [
        ("version", result.version),
        ("base score", f"{result.base_score:.1f}"),
        ("severity", result.severity),
    ]
    rows += [(f"{name} ({m})", f"{value_name} ({v})") for m, name, v, value_name in described]
    _panel(result.vector, rows, None)


@taxonomy_app.command("snapshot")
def taxonomy_snapshot(
    data_dir: Path | None = SnapshotDataDirOption,
    out: Path | None = OutOption,
    as_json: bool = JsonSummaryOption,
) -> None:
    """Parse MITRE's catalogs and write the compact snapshot vulntax loads by default."""
    import time

    from vulntax import datadir
    from vulntax.taxonomy.catalog import SHIPPED_SNAPSHOT, SNAPSHOT_COMMAND, load_catalog

    start = time.perf_counter()
    catalog = load_catalog(datadir.resolve(data_dir))
    parsed = time.perf_counter() - start
    target = catalog.to_snapshot(out or SHIPPED_SNAPSHOT, command=SNAPSHOT_COMMAND)
    summary = {
        "path": str(target),
        "bytes": target.stat().st_size,
        "versions": catalog.versions,
        "sources": catalog.sources,
        "parse_seconds": round(parsed, 3),
    }
    if as_json:
        _print_json(summary)
        return
    versions = ", ".join(f"{k.upper()} {v}" for k, v in catalog.versions.items())
    typer.echo(
        f"wrote {target} ({summary['bytes']:,} bytes): {versions}; "
        f"read MITRE's files in {parsed:.2f} s"
    )


# -- printing -------------------------------------------------------------------------------


def _print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))


def _styled(text: str, style: str) -> Any:
    from rich.text import Text

    return Text(text, style=style)


def _refs(refs: list[dict[str, str]]) -> str:
    return "\n".join(f"{r['id']}  {r['name']}" for r in refs)


def _path(refs: list[dict[str, str]]) -> str:
    return "\n".join(f"{'  ' * depth}{r['id']}  {r['name']}" for depth, r in enumerate(refs))


def _panel(title: str, rows: list[tuple[str, Any]], versions: dict[str, str] | None) -> None:
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else Text(str(value)))
    subtitle = None
    if versions:
        subtitle = " · ".join(f"{k.upper()} {v}" for k, v in versions.items())
    Console().print(Panel(table, title=Text(title, style="bold"), subtitle=subtitle))
