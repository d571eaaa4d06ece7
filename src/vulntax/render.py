"""A prediction object as a readable terminal panel (rich)."""

from __future__ import annotations

from typing import Any

NOT_ENOUGH_INFORMATION = "not enough information"
_BAR = 10
_MIN_ALTERNATIVE = 0.01  # alternatives below this probability are not shown
_SEVERITY_STYLE = {
    "None": "dim",
    "Low": "green",
    "Medium": "yellow",
    "High": "red",
    "Critical": "bold red",
}


def cvss_display(cvss: dict[str, Any]) -> str:
    """The CVSS score as every front end shows it: "9.8 Critical", or "not enough information"
    when the prediction abstains (``cvss.abstain``; the JSON keeps the most probable vector)."""
    if cvss.get("abstain"):
        return NOT_ENOUGH_INFORMATION
    return f"{cvss['base_score']:.1f} {cvss['severity']}"


def prediction_panel(prediction: dict[str, Any], catalog: Any) -> Any:
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from vulntax.taxonomy.cvss import METRIC_NAMES

    parts: list[Any] = []
    for warning in prediction.get("warnings", []):
        parts.append(Text(f"⚠ {warning['message']}", style="bold yellow"))
    cwe = prediction["cwe"]
    head = Text()
    head.append(f"{cwe['id']} ", style="bold cyan")
    head.append(cwe["name"], style="bold")
    head.append(f"   confidence {cwe['confidence']:.2f}")
    if cwe["abstain"]:
        head.append("  (low confidence: treat as a guess)", style="yellow")
    if cwe.get("usage") not in (None, "Allowed", "Allowed-with-Review"):
        head.append(f"  [{cwe['usage']} for mapping]", style="magenta")
    parts.append(head)
    parts.append(_path_tree(cwe["path"], catalog))
    others = [t for t in cwe["top"] if t["id"] != cwe["id"] and t["p"] >= _MIN_ALTERNATIVE][:4]
    if others:
        parts.append(
            Text(
                "  also: " + ", ".join(f"{t['id']} {t['name']} ({t['p']:.2f})" for t in others),
                style="dim",
            )
        )
    parts.append(_evidence_line("  evidence", prediction["evidence"].get("cwe", [])))

    cvss = prediction["cvss"]
    line = Text("\n")
    line.append("CVSS 3.1 ", style="bold")
    if cvss.get("abstain"):
        line.append(cvss_display(cvss), style="yellow")
        line.append(f"   most probable vector: {cvss['vector']}", style="dim")
    else:
        line.append(cvss_display(cvss).upper(), style=_SEVERITY_STYLE.get(cvss["severity"], ""))
        line.append(f"   {cvss['vector']}")
    parts.append(line)
    table = Table(show_header=False, box=None, padding=(0, 1))
    for _ in range(4):
        table.add_column()
    for metric, info in cvss["metrics"].items():
        filled = round(info["p"] * _BAR)
        terms = ", ".join(t["term"] for t in prediction["evidence"].get("cvss", {}).get(metric, []))
        table.add_row(
            f"  {METRIC_NAMES.get(metric, metric)}",
            f"{info['name']}",
            Text(
                "█" * filled + "░" * (_BAR - filled) + f" {info['p']:.2f}",
                style="green" if info["p"] >= 0.7 else "yellow",
            ),
            Text(terms, style="dim"),
        )
    parts.append(table)
    cvss4 = prediction.get("cvss4")
    if cvss4:
        line = Text("CVSS 4.0 ", style="bold")
        if cvss4.get("abstain"):  # it rests on the v3.1 answer, and abstains with it
            line.append(cvss_display(cvss4), style="yellow")
            line.append(f"   most probable vector: {cvss4['vector']}", style="dim")
        else:
            line.append(
                cvss_display(cvss4).upper(), style=_SEVERITY_STYLE.get(cvss4["severity"], "")
            )
            line.append(f"   {cvss4['vector']}")
        parts.append(line)
    if prediction.get("metadata"):
        parts.append(
            Text("  read from the record: " + ", ".join(prediction["metadata"]), style="dim")
        )

    for title, key in (("CAPEC", "capec"), ("ATT&CK", "attack")):
        items = prediction.get(key, [])
        parts.append(Text(f"\n{title}", style="bold"))
        for item in items:
            parts.append(Text(f"  {item['id']:<10} {item['name']}  ({item['p']:.2f})"))
        if not items:
            parts.append(Text(f"  none linked to {cwe['id']} in MITRE's catalogs", style="dim"))
    model = prediction["model"]
    title = f"vulntax · {prediction['id'] or 'description'}"
    return Panel(
        Group(*parts),
        title=title,
        subtitle=f"model {model['name']} {model['version']}",
        expand=False,
    )


def _path_tree(path: list[str], catalog: Any) -> Any:
    """The CWE's View-1000 path, root first, drawn as a tree (the answer last, in bold)."""
    from rich.tree import Tree

    def label(i: int, node: str) -> str:
        style = "bold cyan" if i == len(path) - 1 else "cyan"
        return f"[{style}]{node}[/] {_escape(catalog.cwe.get(node).name)}"

    if not path:
        return Tree("[dim]no View-1000 path[/]")
    root = Tree(label(0, path[0]), guide_style="dim")
    branch = root
    for i, node in enumerate(path[1:], start=1):
        branch = branch.add(label(i, node))
    from rich.padding import Padding

    return Padding(root, (0, 0, 0, 2))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _evidence_line(label: str, terms: list[dict[str, Any]]) -> Any:
    from rich.text import Text

    text = Text(f"{label}: ", style="dim")
    text.append(", ".join(f"“{t['term']}”" for t in terms) or "none", style="italic")
    return text
