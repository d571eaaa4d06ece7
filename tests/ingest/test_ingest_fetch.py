"""The NVD API client against recorded-style answers replayed through httpx.MockTransport.

The fake NVD answers like the CVE API 2.0 from real records of the yearly feeds,
filtered by their real ``lastModified`` dates; scripted failures are injected in
front of its answers. A fake clock stands in for time: nothing waits, nothing
touches the network.
"""

from __future__ import annotations

import gzip
import itertools
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from vulntax.errors import FetchError, UsageError
from vulntax.ingest import IngestReport, read
from vulntax.ingest.fetch import (
    MAX_WINDOW,
    STATE_FILE,
    RetryPolicy,
    api_time,
    fetch_nvd,
    split_windows,
)
from vulntax.ingest.ratelimit import RateLimit, SlidingWindowLimiter
from vulntax.records import CveRecord

SINCE = datetime(2024, 11, 1, tzinfo=UTC)
UNTIL = datetime(2025, 9, 1, tzinfo=UTC)
KEY = "k3y-0f-the-test-8c1d2e"
Action = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def modified(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["cve"]["lastModified"]).replace(tzinfo=UTC)


class FakeNvd:
    """Answers like the NVD CVE API 2.0; ``script`` actions answer first, one per request."""

    def __init__(
        self,
        items: list[dict[str, Any]],
        clock: FakeClock,
        script: list[Action | None] | None = None,
    ):
        self.items = sorted(items, key=modified)
        self.clock = clock
        self.script = list(script or [])
        self.requests: list[tuple[float, dict[str, str], httpx.Headers]] = []
        self.fail_when: Callable[[dict[str, str]], bool] = lambda params: False
        self.on_page: Callable[[FakeNvd, dict[str, str]], None] = lambda nvd, params: None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.requests.append((self.clock.now, params, request.headers))
        action = self.script.pop(0) if self.script else None
        if action is not None:
            return action(request)
        if self.fail_when(params):
            return httpx.Response(503)
        self.on_page(self, params)
        start = datetime.fromisoformat(params["lastModStartDate"])
        end = datetime.fromisoformat(params["lastModEndDate"])
        assert end - start <= timedelta(days=120), "the API refuses ranges over 120 days"
        matching = [i for i in self.items if start <= modified(i) <= end]
        index, size = int(params["startIndex"]), int(params["resultsPerPage"])
        page = matching[index : index + size]
        return httpx.Response(
            200,
            json={
                "resultsPerPage": len(page),
                "startIndex": index,
                "totalResults": len(matching),
                "format": "NVD_CVE",
                "version": "2.0",
                "timestamp": "2025-09-01T00:00:00.000",
                "vulnerabilities": page,
            },
        )

    def expected_ids(self, since: datetime = SINCE, until: datetime = UNTIL) -> set[str]:
        return {i["cve"]["id"] for i in self.items if since <= modified(i) <= until}


def answer(status: int, body: bytes = b"", **headers: str) -> Action:
    return lambda request: httpx.Response(status, content=body, headers=headers)


@pytest.fixture
def items(nvd_feeds: dict[str, Any]) -> list[dict[str, Any]]:
    return nvd_feeds["nvdcve-2.0-2024.json.gz"] + nvd_feeds["nvdcve-2.0-1999.json.gz"][:150]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def run(nvd: FakeNvd, out: Path, **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "since": SINCE,
        "until": UNTIL,
        "client": httpx.Client(transport=httpx.MockTransport(nvd)),
        "clock": nvd.clock.clock,
        "sleep": nvd.clock.sleep,
        "results_per_page": 50,
        "retry": RetryPolicy(attempts=3, base_s=2.0),
    }
    options.update(kwargs)
    return fetch_nvd(out, **options)


def read_ids(out: Path) -> list[str]:
    report = IngestReport()
    ids = [r.id for r in read(out, report=report) if isinstance(r, CveRecord)]
    assert report.skipped == 0, report.examples
    return ids


def test_windows_and_pages(items: list[dict[str, Any]], clock: FakeClock, tmp_path: Path) -> None:
    nvd = FakeNvd(items, clock)
    summary = run(nvd, tmp_path)
    windows = split_windows(SINCE, UNTIL)
    assert len(windows) == 3 and summary.windows == 3
    assert all(b - a <= MAX_WINDOW for a, b in windows) and windows[-1][1] == UNTIL
    starts = [p["lastModStartDate"] for _, p, _ in nvd.requests]
    assert sorted(set(starts)) == [api_time(a) for a, _ in windows]
    assert starts[0] == "2024-11-01T00:00:00.000+00:00"
    assert all(p["resultsPerPage"] == "50" for _, p, _ in nvd.requests)
    assert summary.pages > 3 and summary.pages == len(list(tmp_path.glob("*.json.gz")))
    ids = read_ids(tmp_path)
    assert set(ids) == nvd.expected_ids() and len(ids) == summary.records
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert state["lastModEndDate"] == api_time(UNTIL)
    assert not list((tmp_path / ".incomplete").iterdir())


def test_403_then_200_is_retried(
    items: list[dict[str, Any]], clock: FakeClock, tmp_path: Path
) -> None:
    nvd = FakeNvd(items, clock, script=[answer(403)])
    run(nvd, tmp_path)
    assert nvd.requests[0][1] == nvd.requests[1][1]  # the same page asked again
    assert 2.0 in clock.sleeps  # first backoff step of RetryPolicy(base_s=2)
    assert set(read_ids(tmp_path)) == nvd.expected_ids()


def test_retry_after_and_transport_errors(
    items: list[dict[str, Any]], clock: FakeClock, tmp_path: Path
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    nvd = FakeNvd(items, clock, script=[answer(429, **{"Retry-After": "17"}), refuse])
    run(nvd, tmp_path)
    assert 17.0 in clock.sleeps and 4.0 in clock.sleeps  # Retry-After, then the 2nd backoff step
    assert set(read_ids(tmp_path)) == nvd.expected_ids()


def test_503_exhausts_the_retries(
    items: list[dict[str, Any]], clock: FakeClock, tmp_path: Path
) -> None:
    nvd = FakeNvd(items, clock, script=[answer(503)] * 3)
    with pytest.raises(FetchError) as caught:
        run(nvd, tmp_path)
    message = str(caught.value)
    assert len(nvd.requests) == 3
    assert "HTTP 503" in message and "after 3 attempts" in message and "\n" not in message
    assert "services.nvd.nist.gov/rest/json/cves/2.0?lastModStartDate=" in message
    assert not (tmp_path / STATE_FILE).exists() and not list(tmp_path.glob("*.json.gz"))


@pytest.mark.parametrize("status", [400, 404])
def test_refusals_are_not_retried(
    items: list[dict[str, Any]], clock: FakeClock, tmp_path: Path, status: int
) -> None:
    nvd = FakeNvd(items, clock, script=[answer(status, message="Invalid apiKey")])
    with pytest.raises(FetchError, match=rf"HTTP {status} \(Invalid apiKey\)"):
        run(nvd, tmp_path)
    assert len(nvd.requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"<html>maintenance</html>",
        b'{"vulnerabilities": []}',
        b'{"totalResults": 3, "vulnerabilities": [1]}',
    ],
)
def test_malformed_page(
    items: list[dict[str, Any]], clock: FakeClock, tmp_path: Path, body: bytes
) -> None:
    nvd = FakeNvd(items, clock, script=[answer(200, body)])
    with pytest.raises(FetchError, match="malformed page"):
        run(nvd, tmp_path)


def test_resume_from_state(items: list[dict[str, Any]], clock: FakeClock, tmp_path: Path) -> None:
    windows = split_windows(SINCE, UNTIL)
    nvd = FakeNvd(items, clock)
    nvd.fail_when = lambda params: params["lastModStartDate"] == api_time(windows[1][0])
    with pytest.raises(FetchError):
        run(nvd, tmp_path)
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert state["lastModEndDate"] == api_time(windows[0][1])
    assert set(read_ids(tmp_path)) == nvd.expected_ids(SINCE, windows[0][1])

    again = FakeNvd(items, clock)
    summary = run(again, tmp_path, since=None)
    assert again.requests[0][1]["lastModStartDate"] == api_time(windows[0][1])
    assert summary.windows == 2
    assert set(read_ids(tmp_path)) == nvd.expected_ids()
    assert json.loads((tmp_path / STATE_FILE).read_text())["lastModEndDate"] == api_time(UNTIL)
    assert run(FakeNvd(items, clock), tmp_path, since=None).windows == 0  # up to date


def test_total_changing_while_paging_restarts_the_window(
    items: list[dict[str, Any]], clock: FakeClock, tmp_path: Path
) -> None:
    """A record modified while we page leaves the window: later records shift back by one."""
    nvd = FakeNvd(items, clock)
    window_end = split_windows(SINCE, UNTIL)[0][1]
    first = nvd.items[0]
    assert modified(first) <= window_end and len(nvd.expected_ids(SINCE, window_end)) > 100

    def modify_first_record(fake: FakeNvd, params: dict[str, str]) -> None:
        if params["startIndex"] == "50" and first in fake.items:
            fake.items.remove(first)  # now modified after --until: the next run's business

    nvd.on_page = modify_first_record
    run(nvd, tmp_path)
    assert set(read_ids(tmp_path)) == nvd.expected_ids()  # nothing skipped by the shift


def test_without_since_or_state(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--since is required"):
        fetch_nvd(tmp_path, client=httpx.Client(transport=httpx.MockTransport(answer(500))))


def test_key_travels_in_a_header_only(
    items: list[dict[str, Any]], clock: FakeClock, tmp_path: Path
) -> None:
    nvd = FakeNvd(items, clock)
    run(nvd, tmp_path, api_key=KEY)
    assert all(headers["apiKey"] == KEY for _, _, headers in nvd.requests)
    assert all(KEY not in json.dumps(params) for _, params, _ in nvd.requests)
    for file in tmp_path.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert KEY.encode() not in (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    failing = FakeNvd(items, clock, script=[answer(503)] * 3)
    with pytest.raises(FetchError) as caught:
        run(failing, tmp_path / "again", api_key=KEY)
    assert KEY not in str(caught.value)


def test_keyless_requests_carry_no_key(
    items: list[dict[str, Any]], clock: FakeClock, tmp_path: Path
) -> None:
    nvd = FakeNvd(items, clock)
    run(nvd, tmp_path)
    assert all("apiKey" not in headers for _, _, headers in nvd.requests)


def most_in_window(times: list[float], window: float) -> int:
    return max(sum(1 for u in times if t - window < u <= t) for t in times)


@pytest.mark.parametrize(("key", "limit"), [(None, 5), (KEY, 50)])
def test_rate_limit_on_the_fake_clock(
    items: list[dict[str, Any]], clock: FakeClock, tmp_path: Path, key: str | None, limit: int
) -> None:
    nvd = FakeNvd(items, clock)
    run(nvd, tmp_path, api_key=key, results_per_page=5)
    times = [t for t, _, _ in nvd.requests]
    assert len(times) > limit + 10
    assert most_in_window(times, 30.0) <= limit


def test_sliding_window_without_spacing() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(RateLimit(5, 30.0, margin_s=0.0), clock.clock, clock.sleep)
    times = []
    for _ in range(23):
        limiter.acquire()
        times.append(clock.now)
        clock.now += 1.0  # each request takes a second
    assert times[:5] == [1000.0, 1001.0, 1002.0, 1003.0, 1004.0]  # a burst is fine
    assert times[5] == 1030.0  # then the oldest must leave the window
    assert most_in_window(times, 30.0) == 5


def test_split_windows() -> None:
    start, end = datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 3, 1, 12, tzinfo=UTC)
    windows = split_windows(start, end)
    assert windows[0][0] == start and windows[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert all(b - a <= MAX_WINDOW for a, b in windows) and len(windows) == 4


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    for args, message in [
        ([], "--since is required"),
        (["--since", "last tuesday"], "is not a date"),
        (["--since", "2024-02-01", "--until", "2024-01-01"], "is not before"),
    ]:
        out = subprocess.run(
            [sys.executable, "-m", "vulntax", "fetch", "nvd", "--out", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 2 and message in out.stderr, out.stderr
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_cli_fetch_against_a_local_replay_server(
    items: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The whole command, progress bar included, against a local server replaying pages."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    nvd = FakeNvd(items, FakeClock())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            request = httpx.Request("GET", f"http://test{self.path}", headers=dict(self.headers))
            response = nvd(request)
            self.send_response(response.status_code)
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        since, until = "2025-02-01", "2025-03-01"  # one window, one page: no rate-limit wait
        url = f"http://127.0.0.1:{server.server_port}/rest/json/cves/2.0"
        command = ["fetch", "nvd", "--out", str(tmp_path), "--since", since, "--until", until]
        out = subprocess.run(
            [sys.executable, "-m", "vulntax", *command, "--api-url", url],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
    expected = nvd.expected_ids(datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 3, 1, tzinfo=UTC))
    assert out.returncode == 0, out.stderr
    assert len(nvd.requests) == 1 and len(expected) > 100
    assert out.stdout.startswith(f"fetched {len(expected)} records in 1 page (1 window of")
    assert set(read_ids(tmp_path)) == expected
