"""Incremental download of CVE records from the NVD CVE API 2.0, by last-modified date.

``fetch_nvd(out_dir, since)`` asks for every record modified between ``since``
and ``until`` (default: now), in windows of at most 120 days (the API's limit)
and pages of up to 2000 records, and writes each page as a gzip NVD schema-2.0
file that :func:`vulntax.ingest.read` reads. Pages of a window are written
under ``out_dir/.incomplete`` and moved into ``out_dir`` when the window is
complete; only then is ``state.json`` updated, so an interrupted run resumes
from the last complete window without gaps (a window may be fetched twice:
duplicates, never holes).

Rate limits are enforced client-side (:mod:`vulntax.ingest.ratelimit`); 403
(NVD's rate-limit answer), 429, 5xx and transport errors are retried with
exponential backoff (``Retry-After`` honoured), a bounded number of times.
The API key (``$NVD_API_KEY``) travels in the ``apiKey`` header only; it is
never written to disk or put in a message.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vulntax.errors import FetchError, InputError, UsageError
from vulntax.ingest.detect import FETCH_STATE_KEY
from vulntax.ingest.ratelimit import NVD_KEYLESS, NVD_WITH_KEY, SlidingWindowLimiter

if TYPE_CHECKING:
    import httpx

API_URL = "https://services.nvd.nist.gov/rest/json/cves/2.0"
API_KEY_ENV = "NVD_API_KEY"
MAX_WINDOW = timedelta(days=120)  # the API refuses longer lastMod ranges
MAX_PAGE = 2000  # the API's largest resultsPerPage
STATE_FILE = "state.json"
PARTIAL_DIR = ".incomplete"
MAX_WINDOW_RESTARTS = 3  # a window whose totalResults changes while paging is fetched again


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` tries per request, waiting ``base_s * 2**n`` (at most ``max_s``) between."""

    attempts: int = 6
    base_s: float = 6.0
    max_s: float = 300.0

    def delay(self, failures: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_s)
        return min(self.base_s * 2 ** (failures - 1), self.max_s)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a fetch stands; given to the ``progress`` callback after every page."""

    window: int  # 1-based
    windows: int
    window_start: datetime
    window_end: datetime
    received: int  # records received so far in this window
    total: int  # records the API has for this window


@dataclass
class FetchSummary:
    """What a run fetched."""

    out_dir: str
    since: datetime
    until: datetime
    windows: int = 0
    pages: int = 0
    records: int = 0
    files: list[str] = field(default_factory=list)


def fetch_nvd(
    out_dir: str | Path,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    api_key: str | None = None,
    client: httpx.Client | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[Progress], None] | None = None,
    retry: RetryPolicy = RetryPolicy(),
    results_per_page: int = MAX_PAGE,
    url: str = API_URL,
) -> FetchSummary:
    """Fetch every CVE modified in ``[since, until]`` into ``out_dir`` (see module doc).

    ``since`` defaults to where the last complete run in ``out_dir`` ended
    (its ``state.json``); ``until`` to now. ``api_key`` defaults to ``$NVD_API_KEY``.
    """
    out = Path(out_dir)
    state = load_state(out)
    start = _utc(since) if since is not None else state
    if start is None:
        raise UsageError(
            f"--since is required: {out / STATE_FILE} from an earlier run does not exist"
        )
    end = _utc(until) if until is not None else datetime.now(UTC)
    summary = FetchSummary(str(out), start, end)
    if start >= end:
        if since is None:
            return summary  # the state is already up to date
        raise UsageError(
            f"--since {start:%Y-%m-%d %H:%M} is not before --until {end:%Y-%m-%d %H:%M}"
        )
    if not 1 <= results_per_page <= MAX_PAGE:
        raise UsageError(f"results per page must be 1..{MAX_PAGE}, not {results_per_page}")
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
    partial = _prepare(out)
    session = _Session(client, key, url, retry, clock, sleep)
    windows = split_windows(start, end)
    try:
        for number, (window_start, window_end) in enumerate(windows, 1):

            def report(
                received: int,
                total: int,
                n: int = number,
                first: datetime = window_start,
                last: datetime = window_end,
            ) -> None:
                if progress is not None:
                    progress(Progress(n, len(windows), first, last, received, total))

            pages, records = _fetch_window(
                session, partial, window_start, window_end, results_per_page, report
            )
            for page in pages:
                final = out / page.name
                os.replace(page, final)
                summary.files.append(str(final))
            summary.windows += 1
            summary.pages += len(pages)
            summary.records += records
            save_state(out, window_end, summary)
    finally:
        session.close()
    return summary


def split_windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """``[start, end]`` as consecutive windows of at most 120 days (shared boundaries)."""
    windows = []
    while start < end:
        stop = min(start + MAX_WINDOW, end)
        windows.append((start, stop))
        start = stop
    return windows


def api_time(moment: datetime) -> str:
    """The API's timestamp form, e.g. ``2024-01-01T00:00:00.000+00:00`` (always UTC)."""
    moment = _utc(moment)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+00:00"


def parse_date(text: str, option: str) -> datetime:
    """A command-line date (``2024-01-31`` or an ISO-8601 time) as aware UTC."""
    try:
        return _utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a date: use YYYY-MM-DD or an ISO-8601 time"
        ) from None


def load_state(out: Path) -> datetime | None:
    """The ``lastModEndDate`` of the last complete window fetched into ``out``, if any."""
    path = out / STATE_FILE
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        return _utc(datetime.fromisoformat(state["lastModEndDate"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"fetch state is unreadable ({type(exc).__name__}: {exc}); delete it and pass --since",
            path,
        ) from None


def save_state(out: Path, end: datetime, summary: FetchSummary) -> None:
    """Record that everything modified up to ``end`` is in ``out`` (atomically)."""
    state = {
        FETCH_STATE_KEY: "nvd-fetch",
        "version": 1,
        "lastModEndDate": api_time(end),
        "since": api_time(summary.since),
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        "pages": summary.pages,
        "records": summary.records,
    }
    _write_atomic(out / STATE_FILE, (json.dumps(state, indent=2) + "\n").encode())


def page_name(start: datetime, end: datetime, start_index: int) -> str:
    """File name of a page: sorts by window, then by position in the window."""
    return f"nvdcve-2.0-lastmod-{start:%Y%m%dT%H%M%S}-{end:%Y%m%dT%H%M%S}-{start_index:07d}.json.gz"


def _fetch_window(
    session: _Session,
    partial: Path,
    start: datetime,
    end: datetime,
    per_page: int,
    report: Callable[[int, int], None],
) -> tuple[list[Path], int]:
    """Every page of one window, written under ``partial``; the files and the record count."""
    for _restart in range(MAX_WINDOW_RESTARTS + 1):
        _clear(partial)
        pages: list[Path] = []
        index = 0
        total: int | None = None
        while total is None or index < total:
            params = {
                "lastModStartDate": api_time(start),
                "lastModEndDate": api_time(end),
                "startIndex": index,
                "resultsPerPage": per_page,
            }
            body, page = session.get_page(params)
            if total is not None and page["totalResults"] != total:
                break  # records changed while paging: fetch the window again
            total = page["totalResults"]
            received = len(page["vulnerabilities"])
            if received == 0 and index < total:
                raise FetchError(
                    f"NVD API returned an empty page at startIndex {index} of {total} "
                    f"for {session.describe(params)}; run the command again later"
                )
            if received:
                path = partial / page_name(start, end, index)
                _write_atomic(path, gzip.compress(body, compresslevel=6))
                pages.append(path)
            index += received
            report(index, total)
        else:
            return pages, index
    raise FetchError(
        f"NVD records kept changing while paging the window {api_time(start)} .. {api_time(end)}; "
        "run the command again (it resumes from state.json)"
    )


class _Session:
    """One HTTP client, the rate limiter and the retry policy."""

    def __init__(
        self,
        client: httpx.Client | None,
        key: str | None,
        url: str,
        retry: RetryPolicy,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ):
        import httpx

        from vulntax import __version__

        self._own = client is None
        self.client = client or httpx.Client(timeout=httpx.Timeout(120.0, connect=30.0))
        self.headers = {"User-Agent": f"vulntax/{__version__}"}
        if key:
            self.headers["apiKey"] = key
        self.key = key
        self.url = url
        self.retry = retry
        self.sleep = sleep
        self.limiter = SlidingWindowLimiter(NVD_WITH_KEY if key else NVD_KEYLESS, clock, sleep)

    def close(self) -> None:
        if self._own:
            self.client.close()

    def describe(self, params: dict[str, Any]) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return self._redact(f"{self.url}?{query}")

    def get_page(self, params: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
        """The raw body and parsed JSON of one valid page, retrying what is worth retrying."""
        import httpx

        attempts = self.retry.attempts
        for attempt in range(1, attempts + 1):
            self.limiter.acquire()
            retry_after: float | None = None
            try:
                response = self.client.get(self.url, params=params, headers=self.headers)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                hint = "check the network connection and run the command again"
            else:
                status = response.status_code
                if status == 200:
                    return response.content, self._validate(response.content, params)
                problem = f"HTTP {status}{_nvd_message(response)}"
                if status in (403, 429):
                    retry_after = _retry_after(response)
                    hint = "NVD is rate-limiting this client: wait a few minutes" + (
                        "" if self.key else f", or set {API_KEY_ENV} for a higher limit"
                    )
                elif status >= 500:
                    retry_after = _retry_after(response)
                    hint = "the NVD API is failing; run the command again later"
                else:
                    hint = "the request was refused"
                    if status == 404 and self.key:
                        hint += f" (NVD answers 404 to an invalid key: check {API_KEY_ENV})"
                    raise FetchError(
                        self._redact(f"NVD API: {problem} for {self.describe(params)}; {hint}")
                    )
            if attempt == attempts:
                raise FetchError(
                    self._redact(
                        f"NVD API: {problem} for {self.describe(params)} after {attempts} "
                        f"attempts; {hint} (the run resumes from state.json)"
                    )
                )
            self.sleep(self.retry.delay(attempt, retry_after))
        raise AssertionError("unreachable")

    def _validate(self, body: bytes, params: dict[str, Any]) -> dict[str, Any]:
        try:
            page = json.loads(body)
        except ValueError:
            page = None
        problem = _page_problem(page, params["startIndex"])
        if problem:
            raise FetchError(
                f"NVD API answered a malformed page ({problem}) for {self.describe(params)}; "
                "run the command again later"
            )
        return page

    def _redact(self, text: str) -> str:
        return text.replace(self.key, "***") if self.key else text


def _page_problem(page: Any, start_index: int) -> str:
    if not isinstance(page, dict):
        return "not a JSON object"
    vulnerabilities = page.get("vulnerabilities")
    if not isinstance(vulnerabilities, list):
        return "no 'vulnerabilities' list"
    total = page.get("totalResults")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        return "no valid 'totalResults'"
    if page.get("startIndex", start_index) != start_index:
        return f"startIndex {page.get('startIndex')!r}, asked for {start_index}"
    if any(
        not isinstance(item, dict) or not isinstance(item.get("cve"), dict)
        for item in vulnerabilities
    ):
        return "an item without a 'cve' object"
    if page.get("format", "NVD_CVE") != "NVD_CVE":
        return f"format {page.get('format')!r}"
    return ""


def _nvd_message(response: httpx.Response) -> str:
    """NVD explains refusals in a ``message`` header."""
    message = response.headers.get("message", "")
    return f" ({' '.join(message.split())[:200]})" if message else ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return (_utc(moment) - datetime.now(UTC)).total_seconds()


def _prepare(out: Path) -> Path:
    """Create ``out`` and an empty ``out/.incomplete``; a clear error if that fails."""
    partial = out / PARTIAL_DIR
    try:
        partial.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None
    _clear(partial)
    return partial


def _clear(partial: Path) -> None:
    """Remove the pages an unfinished window left (only our own page files)."""
    for leftover in partial.glob("nvdcve-2.0-lastmod-*.json.gz*"):
        leftover.unlink()


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
