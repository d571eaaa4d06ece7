"""The taxonomy commands: panels, JSON, and one-line errors at the real CLI edge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vulntax.cli.app import app

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vulntax", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_cwe_show_panel() -> None:
    out = invoke("cwe", "show", "79")
    for expected in (
        "CWE-79",
        "CWE-707",
        "Improper Neutralization",
        "CWE-74",
        "Allowed",
        "CAPEC-63",
        "Cross-Site Scripting (XSS)",
        "View 1003",
        "member",
    ):
        assert expected in out
    assert out.index("CWE-707") < out.index("CWE-74  ")


def test_cwe_show_two_parents_and_discouraged() -> None:
    out = invoke("cwe", "show", "CWE-732")
    assert "other parents" in out and "CWE-668" in out
    assert "T1548" in out and "Abuse Elevation Control Mechanism" in out
    out = invoke("cwe", "show", "cwe-119")
    assert "Discouraged" in out and "kept-discouraged" in out


def test_cwe_show_json(data_dir: Path) -> None:
    info = json.loads(invoke("cwe", "show", "CWE-79", "--json", "--data-dir", str(data_dir)))
    assert [p["id"] for p in info["path"]] == ["CWE-707", "CWE-74", "CWE-79"]
    assert info["usage"] == "Allowed" and info["in_view_1003"] is True
    assert {"id": "CAPEC-63", "name": "Cross-Site Scripting (XSS)"} in info["capec"]
    assert info["catalog"] == {"cwe": "4.14", "capec": "3.9", "attack": "18.1"}
    category = json.loads(invoke("cwe", "show", "310", "--json"))
    assert category["kind"] == "category" and category["path"] == []
    assert category["label"] == {"mapped": None, "rule": "category-unmapped"}
    deprecated = json.loads(invoke("cwe", "show", "1187", "--json"))
    assert deprecated["replaced_by"]["id"] == "CWE-908"


def test_capec_show() -> None:
    out = invoke("capec", "show", "CAPEC-66")
    assert "SQL Injection" in out and "CAPEC-248" in out and "CWE-89" in out
    info = json.loads(invoke("capec", "show", "641", "--json"))
    assert [t["id"] for t in info["attack"]] == ["T1574.001"]
    assert info["attack_as_written"] == ["T1574.002"]
    info = json.loads(invoke("capec", "show", "56", "--json"))  # deprecated: shown, flagged
    assert info["deprecated"] is True


def test_attack_show() -> None:
    out = invoke("attack", "show", "T1190")
    assert "Exploit Public-Facing Application" in out and "Initial Access (TA0001)" in out
    info = json.loads(invoke("attack", "show", "t1066", "--json"))
    assert info["revoked"] is True
    assert info["revoked_by"]["id"] == info["current"]["id"] == "T1027.005"
    out = invoke("attack", "show", "T1574.002")
    assert "revoked" in out and "T1574.001" in out
    info = json.loads(invoke("attack", "show", "T1059.001", "--json"))
    assert info["parent"] == {"id": "T1059", "name": "Command and Scripting Interpreter"}
    info = json.loads(invoke("attack", "show", "T1064", "--json"))
    assert info["deprecated"] is True and info["current"] is None


def test_cvss_score() -> None:
    out = invoke("cvss", "score", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    for expected in (
        "9.8",
        "Critical",
        "3.1",
        "Attack Vector (AV)",
        "Network (N)",
        "Scope (S)",
        "Unchanged (U)",
    ):
        assert expected in out
    # NVD recorded 3.1 (Low) for CVE-2016-0125's vector
    vector = "CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"
    info = json.loads(invoke("cvss", "score", vector, "--json"))
    assert info["version"] == "3.0" and info["base_score"] == 3.1 and info["severity"] == "Low"
    assert info["metric_names"]["AC"] == {"name": "Attack Complexity", "value": "High"}


def test_snapshot_command_needs_a_data_dir() -> None:
    out = run("taxonomy", "snapshot", "--out", "/nonexistent/x.json.gz")
    assert out.returncode == 1
    assert out.stderr.startswith("error: no data directory given")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("cwe", "show", "CWE-99999"), "error: CWE-99999 is not defined in CWE 4.14"),
        (("cwe", "show", "NVD-CWE-Other"), "error: NVD-CWE-Other is an NVD placeholder"),
        (("cwe", "show", "banana"), "error: 'banana' is not a CWE id"),
        (("capec", "show", "CAPEC-99999"), "error: CAPEC-99999 is not defined in CAPEC 3.9"),
        (("attack", "show", "T9999"), "error: T9999 is not an ATT&CK Enterprise technique"),
        (("cvss", "score", "CVSS:3.1/AV:N"), "error: invalid CVSS vector 'CVSS:3.1/AV:N'"),
        (("cvss", "score", "AV:N/AC:L/Au:N/C:P/I:P/A:P"), "is a CVSS v2 vector"),
        (("cwe", "show", "79", "--data-dir", "/nonexistent"), "/nonexistent does not exist"),
    ],
)
def test_errors_are_one_line_with_exit_1(args: tuple[str, ...], message: str) -> None:
    out = run(*args)
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert message in out.stderr


def test_env_data_dir_is_used(data_dir: Path, tmp_path: Path) -> None:
    import os

    env = {**os.environ, "VULNTAX_DATA_DIR": str(tmp_path)}  # an empty folder
    out = run("cwe", "show", "79", env=env)
    assert out.returncode == 1
    assert "no files match catalogs/cwec_v*.xml*" in out.stderr


def test_corrupt_catalog_file_in_data_dir_is_one_line(data_dir: Path, tmp_path: Path) -> None:
    catalogs = tmp_path / "catalogs"
    catalogs.mkdir()
    for name in ("stix-capec-3.9.json.gz", "enterprise-attack-18.1.json.gz"):
        (catalogs / name).symlink_to(data_dir / "catalogs" / name)
    (catalogs / "cwec_v4.14.xml.zip").write_bytes(b"not a zip")
    out = run("cwe", "show", "79", "--data-dir", str(tmp_path))
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "cannot read the CWE catalog" in out.stderr


def test_help_is_light() -> None:
    code = (
        "import sys; from vulntax.cli.app import app; "
        "heavy = [m for m in ('defusedxml', 'cvss', 'sklearn', 'torch', 'matplotlib', 'pyarrow') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"
