"""CVE JSON 5 output: each record enriched with a vulntax ADP container, in input order.

* **CVE JSON 5 input**: the record is written back whole — every container as
  it came — with one more entry in ``containers.adp`` (an earlier vulntax
  container is replaced, so enriching twice does not stack them).
* **Other input** (NVD 2.0, JSONL, CSV): a minimal valid record is built from
  the id and description: a CNA container whose ``affected`` is the
  ``n/a`` placeholder, whose references are those the NVD record gave (else
  the record's page on cve.org), and whose provider is a fixed placeholder UUID
  (:data:`UNKNOWN_ORG`: the input does not say which CNA assigned it; the CNA
  container's ``x_vulntax`` says what it was built from and names the
  ``sourceIdentifier`` an NVD record gave).
  An id that is not a CVE id cannot make a valid record: that line is an error
  object (use ``--format jsonl``).

The ADP container (:func:`adp_container`): ``providerMetadata.shortName``
"vulntax" (its ``orgId`` is a fixed UUID of ours, not one the CVE Program
assigned), ``problemTypes`` (CWE id and name), ``metrics`` (``cvssV3_1`` and,
where the model predicts it, ``cvssV4_0``), and ``x_vulntax``: the model,
version and confidences. Where the model abstains the answer is left out and
``x_vulntax.abstained`` says why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

SHORT_NAME = "vulntax"
# fixed random (version 4) UUIDs, as the schema requires; the CVE Program assigned neither
ORG_ID = "89e03e86-f80c-4c85-b147-29252dc2f196"  # vulntax, as an ADP
UNKNOWN_ORG = "bbd86d57-0069-41c1-9725-b61ede4ac94c"  # "assigner not known from this input"
DATA_VERSION = "5.1"
_CVE_ID = re.compile(r"^CVE-[0-9]{4}-[0-9]{4,19}$")
_NOT_A_CVE = "not a CVE id: a CVE JSON 5 record needs one (use --format jsonl)"


def screen(item: Any) -> Any:
    """An input item whose id is no CVE id becomes its error object (no record can hold it)."""
    if isinstance(item, tuple) and not _CVE_ID.match(str(item[0] or "")):
        return {"id": item[0], "error": _NOT_A_CVE}
    return item


def records(items: Sequence[Any], results: Sequence[dict[str, Any]]) -> bytes:
    out = []
    for item, result in zip(items, results, strict=True):
        out.append(orjson.dumps(enrich(item, result)) + b"\n")
    return b"".join(out)


def enrich(item: Any, result: dict[str, Any]) -> dict[str, Any]:
    """The enriched record of one input item, or ``result`` itself if it is an error."""
    if "error" in result:
        return result
    record = item[2] if isinstance(item, tuple) and len(item) > 2 else None
    raw = getattr(record, "raw", None)
    if isinstance(raw, dict):
        base = dict(raw)
        containers = dict(base["containers"])
    else:
        rid = str(result.get("id") or "")
        if not _CVE_ID.match(rid):
            return {"id": result.get("id"), "error": _NOT_A_CVE}
        base, containers = _minimal(rid, item[1], record)
    adp = [c for c in containers.get("adp") or () if not _is_ours(c)]
    adp.append(adp_container(result))
    containers["adp"] = adp
    base["containers"] = containers
    return base


def adp_container(result: dict[str, Any]) -> dict[str, Any]:
    """The vulntax ADP container of one prediction object."""
    cwe, cvss, cvss4 = result["cwe"], result["cvss"], result.get("cvss4")
    container: dict[str, Any] = {
        "providerMetadata": {"orgId": ORG_ID, "shortName": SHORT_NAME},
        "title": "vulntax machine classification",
    }
    abstained: dict[str, str] = {}
    if cwe["abstain"]:
        abstained["cwe"] = f"confidence {cwe['confidence']} is below the abstention threshold"
    else:
        container["problemTypes"] = [
            {
                "descriptions": [
                    {
                        "lang": "en",
                        "type": "CWE",
                        "cweId": cwe["id"],
                        "description": f"{cwe['id']} {cwe['name']}",
                    }
                ]
            }
        ]
    metrics = []
    if cvss.get("abstain"):
        abstained["cvss"] = str(cvss.get("abstain_reason") or "the model abstains on CVSS")
    else:
        metrics.append({"cvssV3_1": _cvss_object(cvss, "3.1")})
        if cvss4 and not cvss4.get("abstain"):
            metrics.append({"cvssV4_0": _cvss_object(cvss4, "4.0")})
    if metrics:
        container["metrics"] = metrics
    container["x_vulntax"] = {
        "model": result.get("model"),
        "cwe": {"id": cwe["id"], "confidence": cwe["confidence"], "top": cwe.get("top", [])},
        "cvss": _confidences(cvss),
        **({"cvss4": _confidences(cvss4)} if cvss4 else {}),
        "capec": result.get("capec", []),
        "attack": result.get("attack", []),
        **({"abstained": abstained} if abstained else {}),
        **({"warnings": result["warnings"]} if result.get("warnings") else {}),
        **({"metadata": result["metadata"]} if "metadata" in result else {}),
    }
    return container


def _cvss_object(cvss: dict[str, Any], version: str) -> dict[str, Any]:
    return {
        "version": version,
        "vectorString": cvss["vector"],
        "baseScore": cvss["base_score"],
        "baseSeverity": str(cvss["severity"]).upper(),
    }


def _confidences(cvss: dict[str, Any]) -> dict[str, Any]:
    return {
        "vector": cvss["vector"],
        "metrics": {m: {"value": v["value"], "p": v["p"]} for m, v in cvss["metrics"].items()},
    }


def _is_ours(container: Any) -> bool:
    meta = container.get("providerMetadata") if isinstance(container, dict) else None
    return isinstance(meta, dict) and meta.get("shortName") == SHORT_NAME


def _minimal(rid: str, description: str, record: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    references = getattr(record, "references", ())
    urls = [u for u in references if isinstance(u, str) and 0 < len(u) <= 2048]
    refs = [{"url": u} for u in dict.fromkeys(urls)] or [
        {"url": f"https://www.cve.org/CVERecord?id={rid}"}
    ]
    cna = {
        "providerMetadata": {"orgId": UNKNOWN_ORG},
        "descriptions": [{"lang": "en", "value": description[:4096]}],
        "affected": [
            {
                "vendor": "n/a",
                "product": "n/a",
                "versions": [{"version": "n/a", "status": "affected"}],
            }
        ],
        "references": refs,
        "x_vulntax": {
            "built_from": str(getattr(record, "origin", "input")),
            "assigner": getattr(record, "assigner", "") or None,
        },
    }
    base = {
        "dataType": "CVE_RECORD",
        "dataVersion": DATA_VERSION,
        "cveMetadata": {"cveId": rid, "assignerOrgId": UNKNOWN_ORG, "state": "PUBLISHED"},
    }
    return base, {"cna": cna}
