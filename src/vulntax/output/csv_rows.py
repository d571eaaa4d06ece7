"""CSV output: one row per record, in input order, safe to open in a spreadsheet.

Columns (:data:`COLUMNS`): the CWE (id, name, confidence, abstain), the CVSS
v3.1 and v4.0 vectors with their scores and severities, and the CAPEC and
ATT&CK ids joined by ``;``. A cell that a spreadsheet would read as a formula
(beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
prefixed with ``'`` (OWASP's advice against CSV injection). Where the model
abstains on CVSS (``cvss.abstain``) the vector and score cells are empty and the
severity cell reads "not enough information" (as the panel and page say); a record that
could not be classified keeps its id and says why in ``cwe_name``
(``error: ...``), the other cells empty.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from vulntax.render import NOT_ENOUGH_INFORMATION

COLUMNS = (
    "id",
    "cwe_id",
    "cwe_name",
    "cwe_confidence",
    "cwe_abstain",
    "cvss_vector",
    "cvss_score",
    "cvss_severity",
    "cvss4_vector",
    "cvss4_score",
    "cvss4_severity",
    "capec_ids",
    "attack_ids",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def header() -> bytes:
    return _encode([list(COLUMNS)])


def rows(items: Sequence[Any], results: Sequence[dict[str, Any]]) -> bytes:
    return _encode([row(r) for r in results])


def row(result: dict[str, Any]) -> list[str]:
    """The CSV cells of one prediction (or error) object, neutralised."""
    if "error" in result:
        cells = [result.get("id"), "", f"error: {result['error']}"] + [""] * (len(COLUMNS) - 3)
        return [neutralise(c) for c in cells]
    cwe, cvss, cvss4 = result["cwe"], result["cvss"], result.get("cvss4")
    # an abstained score reads "not enough information" in the severity cell, as on the panel
    abstained = ["", "", NOT_ENOUGH_INFORMATION]
    v3 = abstained if cvss.get("abstain") else _scored(cvss)
    # the v4.0 head reads the v3.1 outputs: where those are abstained on, so is v4.0
    v4_abstains = cvss4 is not None and (cvss4.get("abstain") or cvss.get("abstain"))
    v4 = ["", "", ""] if not cvss4 else abstained if v4_abstains else _scored(cvss4)
    cells = [
        result.get("id"),
        cwe["id"],
        cwe["name"],
        f"{cwe['confidence']:.4f}",
        "true" if cwe["abstain"] else "false",
        *v3,
        *v4,
        ";".join(p["id"] for p in result.get("capec", ())),
        ";".join(t["id"] for t in result.get("attack", ())),
    ]
    return [neutralise(c) for c in cells]


def neutralise(value: Any) -> str:
    """The cell as text; a leading formula character is escaped with ``'``."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _scored(cvss: dict[str, Any]) -> list[str]:
    return [cvss["vector"], f"{cvss['base_score']:.1f}", cvss["severity"]]


def _encode(table: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(table)
    return buffer.getvalue().encode("utf-8")
