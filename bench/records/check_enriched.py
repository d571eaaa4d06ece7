"""Check `--format cve5` output against its input on a whole file of CVE JSON 5 records.

    vulntax predict --input IN.jsonl.gz --output OUT.jsonl --format cve5
    python bench/records/check_enriched.py IN.jsonl.gz OUT.jsonl

Every output record is validated against the official schema (cvelib's bundled 5.1.1), and
its containers are compared with the input's: the CNA container and every earlier ADP
container must be unchanged, one vulntax container added. Prints the counts.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections import Counter
from pathlib import Path


def main(source: str, enriched: str) -> int:
    import cvelib
    import jsonschema

    schema_path = Path(os.path.dirname(cvelib.__file__)) / "schemas" / "CVE_JSON_bundled_5.1.1.json"
    validator = jsonschema.Draft7Validator(json.loads(schema_path.read_text(encoding="utf-8")))
    counts: Counter[str] = Counter()
    opener = gzip.open if source.endswith(".gz") else open
    with opener(source, "rt", encoding="utf-8") as inp, open(enriched, encoding="utf-8") as out:
        for line_in, line_out in zip(inp, out, strict=True):
            original, result = json.loads(line_in), json.loads(line_out)
            if "error" in result:
                counts[f"error: {result['error'].split(' (')[0]}"] += 1
                continue
            counts["records"] += 1
            if not validator.is_valid(result):
                counts["schema-invalid"] += 1
            before = original["containers"].get("adp", [])
            after = result["containers"]
            same = (
                after["cna"] == original["containers"]["cna"]
                and after["adp"][: len(before)] == before
                and len(after["adp"]) == len(before) + 1
                and {k: v for k, v in result.items() if k != "containers"}
                == {k: v for k, v in original.items() if k != "containers"}
            )
            counts["round trip intact" if same else "round trip CHANGED"] += 1
            ours = after["adp"][-1]
            counts["with problemTypes" if "problemTypes" in ours else "CWE abstained"] += 1
            counts["with cvssV4_0"] += any("cvssV4_0" in m for m in ours.get("metrics", ()))
    for key, value in sorted(counts.items()):
        print(f"{key}: {value:,}")
    return 0 if counts["schema-invalid"] == 0 and counts["round trip CHANGED"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
