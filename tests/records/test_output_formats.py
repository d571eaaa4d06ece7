"""`vulntax predict --format cve5|csv`: real records in, enriched records and rows out."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from vulntax.output.csv_rows import COLUMNS, neutralise


def vulntax(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vulntax", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def cve5_out(tmp_path_factory, cve5_lines: list[str], heads_model: Path) -> list[dict]:
    folder = tmp_path_factory.mktemp("cve5-out")
    src = folder / "in.jsonl"
    src.write_text("\n".join(cve5_lines) + "\n", encoding="utf-8")
    out = folder / "out.jsonl"
    run = vulntax(
        "predict", "--input", str(src), "--output", str(out), "--format", "cve5",
        "--model", str(heads_model), "--workers", "2", "--batch-size", "16", "-q",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_cve5_round_trip_keeps_every_container(cve5_lines, cve5_out, cve5_schema) -> None:
    assert len(cve5_out) == len(cve5_lines)
    enriched = 0
    for line, out in zip(cve5_lines, cve5_out, strict=True):
        original = json.loads(line)
        if original["cveMetadata"]["state"] == "REJECTED":  # no description: an error line
            assert out == {"id": original["cveMetadata"]["cveId"], "error": out["error"]}
            assert out["error"].startswith("rejected CVE")
            continue
        jsonschema.validate(out, cve5_schema)
        assert {k: v for k, v in out.items() if k != "containers"} == {
            k: v for k, v in original.items() if k != "containers"
        }
        assert out["containers"]["cna"] == original["containers"]["cna"]
        before = original["containers"].get("adp", [])
        assert out["containers"]["adp"][: len(before)] == before
        (ours,) = out["containers"]["adp"][len(before) :]
        assert ours["providerMetadata"]["shortName"] == "vulntax"
        assert ours["x_vulntax"]["model"]["name"] == "tiny-linear"
        enriched += 1
    assert enriched == len(cve5_lines) - 1


def test_adp_metrics_and_abstention(cve5_out) -> None:
    from cvss import CVSS3, CVSS4

    abstained = answered = 0
    for out in cve5_out:
        if "error" in out:
            continue
        ours = out["containers"]["adp"][-1]
        x = ours["x_vulntax"]
        v3 = ours["metrics"][0]["cvssV3_1"]
        assert float(CVSS3(v3["vectorString"]).base_score) == v3["baseScore"]
        v4 = ours["metrics"][1]["cvssV4_0"]
        assert (
            v4["version"] == "4.0"
            and float(CVSS4(v4["vectorString"]).base_score) == v4["baseScore"]
        )
        assert v4["baseSeverity"] == str(CVSS4(v4["vectorString"]).severity).upper()
        if "problemTypes" in ours:
            answered += 1
            assert ours["problemTypes"][0]["descriptions"][0]["cweId"] == x["cwe"]["id"]
        else:
            abstained += 1
            assert "below the abstention threshold" in x["abstained"]["cwe"]
    assert answered and abstained  # the tiny model does both on these records


def test_enriching_twice_replaces_our_container(tmp_path, cve5_out, heads_model, cve5_schema):
    src = tmp_path / "again.jsonl"
    good = [r for r in cve5_out if "error" not in r][:5]
    src.write_text("".join(json.dumps(r) + "\n" for r in good), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run = vulntax("predict", "-i", str(src), "-o", str(out), "-f", "cve5", "-m", str(heads_model))
    assert run.returncode == 0, run.stderr
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert again == good  # same model, same input: the same record, one vulntax container


def test_nvd_and_jsonl_input_build_valid_records(tmp_path, data_dir, heads_model, cve5_schema):
    with gzip.open(data_dir / "nvd" / "nvdcve-2.0-2022.json.gz", "rt") as handle:
        feed = json.load(handle)
    feed["vulnerabilities"] = feed["vulnerabilities"][:30]
    nvd = tmp_path / "feed.json"
    nvd.write_text(json.dumps(feed), encoding="utf-8")
    jsonl = tmp_path / "plain.jsonl"
    jsonl.write_text(
        json.dumps({"id": "CVE-2099-0001", "description": "XSS in the search box."})
        + "\n"
        + json.dumps({"id": "row-2", "description": "Buffer overflow in a parser."})
        + "\n"
    )
    for src, count in ((nvd, 30), (jsonl, 2)):
        out = tmp_path / f"{src.stem}.cve5.jsonl"
        run = vulntax(
            "predict", "-i", str(src), "-o", str(out), "-f", "cve5", "-m", str(heads_model)
        )
        assert run.returncode == 0, run.stderr
        records = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(records) == count
        for record in records:
            if record.get("id") == "row-2":
                assert "not a CVE id" in record["error"]
                continue
            jsonschema.validate(record, cve5_schema)
            assert record["containers"]["adp"][0]["providerMetadata"]["shortName"] == "vulntax"
    first = json.loads((tmp_path / "feed.cve5.jsonl").read_text().splitlines()[0])
    item = feed["vulnerabilities"][0]["cve"]
    assert first["cveMetadata"]["cveId"] == item["id"]
    english = next(d["value"] for d in item["descriptions"] if d["lang"] == "en")
    assert first["containers"]["cna"]["descriptions"][0]["value"] == english


def _description(line: str) -> str:
    descriptions = json.loads(line)["containers"]["cna"].get("descriptions") or [{"value": "-"}]
    return str(descriptions[0]["value"])


def test_csv_rows_in_order_and_neutralised(tmp_path, heads_model, cve5_lines) -> None:
    src = tmp_path / "in.jsonl"
    rows = [
        {"id": '=HYPERLINK("http://x")', "description": "SQL injection in login.php."},
        {"id": "@a", "description": "   "},
        *[
            {"id": f"r{i}", "description": _description(line)}
            for i, line in enumerate(cve5_lines[:20])
        ],
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.csv"
    run = vulntax("predict", "-i", str(src), "-o", str(out), "-f", "csv", "-m", str(heads_model))
    assert run.returncode == 0, run.stderr
    assert "(1 records could not be classified)" in run.stderr
    table = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert tuple(table[0]) == COLUMNS
    body = table[1:]
    assert [r[0] for r in body] == [
        '\'=HYPERLINK("http://x")',
        "'@a",
        *[f"r{i}" for i in range(20)],
    ]
    assert body[1][2] == "error: missing description" or body[1][2].startswith("error: ")
    for row in body[2:]:
        assert len(row) == len(COLUMNS)
        assert row[1].startswith("CWE-") and row[4] in ("true", "false")
        assert row[5].startswith("CVSS:3.1/") and row[8].startswith("CVSS:4.0/")
        assert all(not cell.startswith(("=", "+", "-", "@")) for cell in row)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("CWE-79", "CWE-79"),
        (None, ""),
        (0.5, "0.5"),
        ("\tx", "'\tx"),
    ],
)
def test_neutralise(value, cell) -> None:
    assert neutralise(value) == cell


def test_unknown_format_is_one_line(tmp_path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "description": "XSS"}) + "\n")
    run = vulntax("predict", "-i", str(src), "--format", "xml")
    assert run.returncode != 0
    assert run.stderr.strip().count("\n") == 0 and "unknown output format 'xml'" in run.stderr


def test_cvss_abstention_drops_the_metrics(heads_model) -> None:
    """When the predictor abstains on CVSS (``cvss.abstain``): no ADP metrics, no CSV scores."""
    from vulntax.output.csv_rows import row
    from vulntax.output.cve5 import adp_container
    from vulntax.predictor import Predictor

    prediction = Predictor(heads_model).predict("Lorem ipsum dolor sit amet.", id="CVE-2099-0002")
    prediction["cvss"]["abstain"] = True  # set on v3.1 only: v4.0 rests on it and follows
    container = adp_container(prediction)
    assert "metrics" not in container
    assert container["x_vulntax"]["abstained"]["cvss"]
    cells = dict(zip(COLUMNS, row(prediction), strict=True))
    assert cells["cvss_vector"] == cells["cvss_score"] == cells["cvss4_vector"] == ""
    assert cells["cvss4_severity"] == "not enough information"
    assert cells["cwe_id"].startswith("CWE-")


def test_an_abstained_score_reads_not_enough_information() -> None:
    from vulntax.output.csv_rows import row
    from vulntax.predictor import Predictor

    prediction = Predictor().predict("Heap-based buffer overflow in the PNG decoder of libfoo 1.2.")
    answered = dict(zip(COLUMNS, row(prediction), strict=True))
    assert answered["cvss_severity"] in ("Low", "Medium", "High", "Critical")
    assert answered["cvss_vector"].startswith("CVSS:3.1/")
    prediction["cvss"]["abstain"] = True
    if "cvss4" in prediction:
        prediction["cvss4"]["abstain"] = True
    cells = dict(zip(COLUMNS, row(prediction), strict=True))
    assert (cells["cvss_vector"], cells["cvss_score"]) == ("", "")
    assert cells["cvss_severity"] == "not enough information"
    if "cvss4" in prediction:
        assert cells["cvss4_severity"] == "not enough information"


def test_cve5_lines_for_non_cve_ids_are_errors_and_counted(tmp_path) -> None:
    src = tmp_path / "in.jsonl"
    rows = [
        {"id": "ticket-7", "description": "SQL injection in login.php via the user parameter."},
        {"id": "CVE-2024-0001", "description": "SQL injection in login.php via the user field."},
        {"id": "CVE-2024-0002", "description": ""},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.cve5"
    run = vulntax("predict", "-i", str(src), "-o", str(out), "--format", "cve5", "-q")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0] == {"id": "ticket-7", "error": lines[0]["error"]}
    assert "not a CVE id" in lines[0]["error"]
    assert lines[1]["cveMetadata"]["cveId"] == "CVE-2024-0001"
    assert "error" in lines[2]
    assert "(2 records could not be classified)" in run.stderr
