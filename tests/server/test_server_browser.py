"""End to end: the real server (``vulntax serve``) driven in headless Chromium.

Uses Debian's Chromium (``/usr/bin/chromium``) through Playwright's Python driver;
no browser is ever downloaded. The test is skipped, saying why, only where no
Chromium binary exists; ``.ci/run`` installs it, so CI runs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("VULNTAX_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# the workplace's flags: no sandbox as root, and no background traffic to the closed network
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SQLI = (
    "SQL injection in the login form of Acme Portal 3.1 allows remote attackers to "
    "execute arbitrary SQL commands via the username parameter."
)

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason=f"no Chromium binary at {CHROMIUM} (apt-get install chromium; .ci/run does)",
)


@pytest.fixture(scope="module")
def server(
    tiny_model: Path, tmp_path_factory: pytest.TempPathFactory, serve_vulntax: Any
) -> Iterator[str]:
    """``vulntax serve`` with the tiny model, as a subprocess on a free loopback port."""
    log = tmp_path_factory.mktemp("serve") / "server.log"
    with serve_vulntax(["--model", str(tiny_model), "--no-access-log"], log, start_s=60) as url:
        yield url


@needs_chromium
def test_the_page_classifies_a_description(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            expected_4xx = "Failed to load resource: the server responded with a status of 422"
            page.on(
                "console",
                lambda msg: (
                    problems.append(msg.text)
                    if msg.type == "error" and not msg.text.startswith(expected_4xx)
                    else None
                ),
            )
            page.goto(server + "/")
            expect(page.locator("#about")).to_contain_text("model tiny-linear")

            # an empty submission shows an error, and sends nothing
            page.get_by_role("button", name="Classify").click()
            alert = page.get_by_role("alert")
            expect(alert).to_be_visible()
            expect(alert).to_contain_text("Paste a vulnerability description")
            expect(page.locator("#results")).to_be_hidden()

            # a description, submitted from the keyboard
            box = page.get_by_label("Vulnerability description or CVE JSON record")
            box.fill(SQLI)
            box.press("Control+Enter")
            expect(page.locator("#cwe-main")).to_contain_text("CWE-89")
            expect(alert).to_be_hidden()
            expect(page.locator("#cwe-main a")).to_have_attribute(
                "href", "https://cwe.mitre.org/data/definitions/89.html"
            )
            vector = page.locator("#cvss-vector")
            expect(vector).to_have_text(
                re.compile(
                    r"^CVSS:3\.1/AV:[NALP]/AC:[LH]/PR:[NLH]/UI:[NR]/S:[UC]/C:[HLN]/I:[HLN]/A:[HLN]$"
                )
            )
            expect(page.locator("#cvss-score")).to_have_text(re.compile(r"^\d{1,2}\.\d$"))
            expect(page.locator("#cvss-severity")).to_have_text(
                re.compile("^(None|Low|Medium|High|Critical)$")
            )
            expect(page.locator("#cvss-metrics tr")).to_have_count(8)
            # the tree: View-1000 path from the root, names filled in by /v1/cwe
            tree = page.locator("#cwe-tree .node-id")
            expect(tree.last).to_have_text("CWE-89")
            expect(page.locator("#cwe-tree .node.leaf .node-name")).to_contain_text("SQL")
            expect(page.locator("#cvss-metrics")).to_contain_text("Attack Vector")
            assert tree.count() >= 3
            # evidence words are marked in the text
            marks = page.locator("#evidence-text mark")
            expect(marks.first).to_be_visible()
            assert "sql" in " ".join(marks.all_inner_texts()).lower()
            # the evidence of another answer, chosen with the keyboard
            page.locator("#ev-cwe").focus()
            page.keyboard.press("ArrowRight")
            expect(page.locator("#ev-AV")).to_be_checked()
            expect(page.locator("#evidence-terms")).not_to_contain_text("sql injection")
            # CAPEC links point at MITRE's pages
            expect(page.locator("#capec-list a").first).to_have_attribute(
                "href", re.compile(r"^https://capec\.mitre\.org/data/definitions/\d+\.html$")
            )
            page.screenshot(path=str(tmp_path / "classified.png"), full_page=True)

            # a CVE JSON 5 record: its English description and id are used
            record = {
                "dataType": "CVE_RECORD",
                "cveMetadata": {"cveId": "CVE-2099-0001", "state": "PUBLISHED"},
                "containers": {
                    "cna": {
                        "descriptions": [
                            {"lang": "de", "value": "Nicht diese"},
                            {"lang": "en", "value": SQLI},
                        ]
                    }
                },
            }
            box.fill(json.dumps(record, indent=2))
            page.get_by_role("button", name="Classify").click()
            expect(page.locator("#record-id")).to_have_text("for CVE-2099-0001")
            expect(page.locator("#evidence-text")).to_have_text(SQLI)

            # a 4xx from the server is shown as it says
            box.fill("CVE-2021-44228")
            page.get_by_role("button", name="Classify").click()
            expect(alert).to_contain_text("description: empty description")
            expect(page.locator("#results")).to_be_hidden()
            page.screenshot(path=str(tmp_path / "error.png"), full_page=True)

            # offline: the page asked nothing of any other host
            assert requests and all(r.startswith(server) or r.startswith("data:") for r in requests)
            assert not problems, problems
        finally:
            browser.close()


@needs_chromium
def test_the_page_shows_warnings_and_withholds_the_score(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            page = browser.new_page()
            page.goto(server + "/")
            box = page.get_by_label("Vulnerability description or CVE JSON record")
            box.fill("** RESERVED ** This candidate has been reserved by an organization.")
            page.get_by_role("button", name="Classify").click()
            expect(page.locator("#warnings")).to_contain_text("RESERVED or REJECTED")
            expect(page.locator("#cvss-severity")).to_have_text("not enough information")
            expect(page.locator("#cvss-score")).to_have_text("")
            expect(page.locator("#status")).to_contain_text("CVSS not enough information")
            box.fill(SQLI)
            page.get_by_role("button", name="Classify").click()
            expect(page.locator("#cwe-main")).to_contain_text("CWE-89")
            expect(page.locator("#warnings")).to_have_text("")
            expect(page.locator("#cvss-score")).to_have_text(re.compile(r"^\d{1,2}\.\d$"))
        finally:
            browser.close()
