"""Load test of ``vulntax serve`` on loopback: throughput and latency under concurrency.

Starts the server as a subprocess on a free 127.0.0.1 port (the default model, or
``--model DIR``), then for single-description and batch requests at each
concurrency (1, 8, 32) runs a closed loop: that many clients, each sending its next
request as soon as the last one is answered, for a few seconds or a request budget,
whichever ends first. Descriptions are real NVD ones from ``--data-dir`` (default
``../shared/data``). Prints a table and writes JSON; exits 1 if any request failed.

Bounded by design: loopback only, at most ``--max-requests`` per cell, and the cells
share a budget of ``--budget`` seconds (default 50), so one run stays under a minute
after start-up. The load generator shares the machine with the server: on 2 cores
its own CPU time is part of what the server's latency competes with. Besides
latency, each cell reports the server's CPU time per request (from /proc: the server and
its prediction process), which
other load on the machine disturbs far less than it disturbs latency.

    python bench/load.py --model DIR [--repeat 3] [--out bench/results/load.json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
CONCURRENCY = (1, 8, 32)
MODES = ("single", "batch")
TEXTS = 2000  # distinct descriptions cycled through


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    texts = _descriptions(Path(args.data_dir), TEXTS)
    cells = [(mode, c) for mode in args.modes for c in args.concurrency]
    seconds = min(args.seconds, args.budget / (len(cells) * args.repeat))
    with Server(args.model, args.predict_in, args.workers) as server:
        url = server.url
        version = httpx.get(f"{url}/v1/version", timeout=10).json()
        load_before = os.getloadavg()
        rounds = [
            [_measured(server, texts, mode, c, seconds, args) for mode, c in cells]
            for _ in range(args.repeat)
        ]
        load_after = os.getloadavg()
    results = [_median([r[i] for r in rounds]) for i in range(len(cells))]
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "vulntax": version["vulntax"],
        "model": version["model"],
        "settings": {
            "seconds_per_cell": round(seconds, 2),
            "max_requests_per_cell": args.max_requests,
            "batch_size": args.batch_size,
            "repeat": args.repeat,
            "predict_in": args.predict_in,
            "workers": args.workers,
            "client": args.client,
            "distinct_descriptions": len(texts),
        },
        "results": results,
        "rounds": rounds,
    }
    _print(report)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    failed = sum(r["failed"] for round_ in rounds for r in round_)
    if failed:
        print(f"{failed} requests failed", file=sys.stderr)
    return 1 if failed else 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--seconds", type=float, default=6.0, help="longest time per cell")
    parser.add_argument("--budget", type=float, default=50.0, help="seconds for all cells")
    parser.add_argument("--max-requests", type=int, default=5000, help="most requests per cell")
    parser.add_argument("--batch-size", type=int, default=32, help="descriptions per batch")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the median is reported")
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--predict-in",
        choices=("process", "thread"),
        default="process",
        help="vulntax serve --predict-in (default: process)",
    )
    parser.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="raw",
        help="load generator: raw (a minimal keep-alive HTTP/1.1 client, little CPU; default)"
        " or httpx (a full client, ≈ 1.3 ms of CPU per request on these cores)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="vulntax serve --workers (default: 1)"
    )
    args = parser.parse_args(argv)
    if args.budget > 55 or args.seconds <= 0 or args.max_requests < 1 or args.repeat < 1:
        parser.error("keep --budget ≤ 55 s, --seconds > 0, --max-requests ≥ 1, --repeat ≥ 1")
    return args


# -- inputs and the server ------------------------------------------------------------------


def _descriptions(data_dir: Path, count: int) -> list[str]:
    from vulntax.ingest import read_records
    from vulntax.records import IngestReport

    feeds = sorted((data_dir / "nvd").glob("nvdcve-2.0-2022.json.gz"))
    if not feeds:
        sys.exit(f"no NVD 2022 feed under {data_dir}/nvd (give --data-dir)")
    texts: list[str] = []
    for record in read_records(feeds, IngestReport()):
        texts.append(record.description)
        if len(texts) >= count:
            break
    return texts


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """``vulntax serve`` on a free loopback port, stopped on exit."""

    def __init__(self, model: str | None, predict_in: str = "process", workers: int = 1) -> None:
        self.model = model
        self.predict_in = predict_in
        self.workers = workers
        self.url = ""

    def cpu_seconds(self) -> float | None:
        """CPU time the server and its child processes have used (Linux)."""
        own = _stat(self.process.pid)
        if own is None:
            return None
        total = own[1]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != self.process.pid:
                found = _stat(int(entry.name))
                if found is not None and found[0] == self.process.pid:
                    total += found[1]  # e.g. the prediction process
        return total

    def __enter__(self) -> Server:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [sys.executable, "-m", "vulntax", "serve", "--port", str(port)]
        command += ["--no-access-log", "--predict-in", self.predict_in]
        command += ["--workers", str(self.workers)]
        command += ["--model", self.model] if self.model else []
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        self.url = url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        self.__exit__()
        sys.exit(f"vulntax serve did not start: {self.process.stderr.read()[-2000:]}")  # type: ignore[union-attr]

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- one cell: a closed loop of `concurrency` clients -----------------------------------------


def _measured(
    server: Server, texts: list[str], mode: str, concurrency: int, seconds: float, args: Any
) -> dict[str, Any]:
    """One cell, with the server's CPU time per request (steadier than latency on a busy host)."""
    before = server.cpu_seconds()
    result = asyncio.run(_cell(server.url, texts, mode, concurrency, seconds, args))
    after = server.cpu_seconds()
    served = result.pop("served")
    result["server_cpu_ms_per_request"] = (
        round(1000 * (after - before) / served, 2)
        if before is not None and after is not None
        else None
    )
    return result


class RawClient:
    """A minimal HTTP/1.1 client: one keep-alive connection per simulated client.

    It writes pre-encoded requests and reads ``Content-Length`` answers (what uvicorn
    sends), so the load generator spends a fraction of what ``httpx`` spends per request
    on the two cores it shares with the server. Anything else (a chunked answer, a closed
    connection) counts as a failed request.
    """

    def __init__(self, url: str, concurrency: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.head = f"POST /v1/predict HTTP/1.1\r\nHost: {host}:{port}\r\n"
        self.head += "Content-Type: application/json\r\n"
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, body: bytes) -> tuple[int, bytes]:
        reader, writer = (
            self.idle.pop() if self.idle else await asyncio.open_connection(*self.address)
        )
        writer.write(f"{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            writer.close()
            raise ValueError(f"an answer without Content-Length: {head[:200]!r}")
        content = await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status, content

    async def aclose(self) -> None:
        for _, writer in self.idle:
            writer.close()


class HttpxClient:
    """``httpx.AsyncClient``: a full client, as an application would use (more CPU per request)."""

    def __init__(self, url: str, concurrency: int) -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.AsyncClient(base_url=url, limits=limits, timeout=30)

    async def post(self, body: bytes) -> tuple[int, bytes]:
        response = await self.client.post(
            "/v1/predict", content=body, headers={"content-type": "application/json"}
        )
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self.client.aclose()


CLIENTS: dict[str, type[RawClient | HttpxClient]] = {"raw": RawClient, "httpx": HttpxClient}


async def _cell(
    url: str, texts: list[str], mode: str, concurrency: int, seconds: float, args: Any
) -> dict[str, Any]:
    size = 1 if mode == "single" else args.batch_size
    latencies: list[float] = []
    failures: list[str] = []
    sent = 0

    def body(n: int) -> bytes:
        picked = [texts[(n * size + i) % len(texts)] for i in range(size)]
        if mode == "single":
            return json.dumps({"description": picked[0], "id": str(n)}).encode()
        items = [{"id": f"{n}.{i}", "description": t} for i, t in enumerate(picked)]
        return json.dumps({"items": items}).encode()

    # the requests repeat after this many (their ids with them): encoded once, outside the clock
    bodies = [body(n) for n in range(len(texts) // math.gcd(size, len(texts)))]
    client = CLIENTS[args.client](url, concurrency)
    warm = min(concurrency, 8)
    for n in range(warm):  # open connections (counted in the server's CPU time)
        await client.post(bodies[n])
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    cpu_start = time.process_time()

    async def worker() -> None:
        nonlocal sent
        while time.perf_counter() < deadline and sent < args.max_requests:
            n = sent
            sent += 1
            t0 = time.perf_counter()
            try:
                status, content = await asyncio.wait_for(client.post(bodies[n % len(bodies)]), 30)
                ok = status == 200
                if ok and mode == "batch":
                    ok = len(json.loads(content)["items"]) == size
                if not ok:
                    failures.append(f"{status}: {content[:200]!r}")
            except TimeoutError:  # before OSError, of which it is a kind
                failures.append("no answer in 30 s")
            except (httpx.HTTPError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    client_cpu = time.process_time() - cpu_start
    await client.aclose()
    ms = sorted(x * 1000 for x in latencies)
    return {
        "mode": mode,
        "concurrency": concurrency,
        "descriptions_per_request": size,
        "requests": len(ms),
        "failed": len(failures),
        "failures": failures[:5],
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(ms) / elapsed, 1),
        "descriptions_per_s": round(len(ms) * size / elapsed, 1),
        "p50_ms": round(_quantile(ms, 0.50), 1),
        "p90_ms": round(_quantile(ms, 0.90), 1),
        "p99_ms": round(_quantile(ms, 0.99), 1),
        "max_ms": round(ms[-1], 1) if ms else None,
        "client_cpu_share": round(client_cpu / elapsed, 2),  # of one core, load generator
        "served": len(ms) + warm,
    }


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure, the median over the rounds of one cell."""
    merged = dict(runs[0])
    figures = ("requests_per_s", "descriptions_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms")
    for key in (*figures, "client_cpu_share", "server_cpu_ms_per_request"):
        values = [r[key] for r in runs if r[key] is not None]
        merged[key] = round(statistics.median(values), 2) if values else None
    merged["requests"] = sum(r["requests"] for r in runs)
    merged["failed"] = sum(r["failed"] for r in runs)
    merged["failures"] = [f for r in runs for f in r["failures"]][:5]
    merged.pop("seconds", None)
    return merged


def _machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": memory,
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def _print(report: dict[str, Any]) -> None:
    model = report["model"]
    machine = report["machine"]
    print(
        f"vulntax {report['vulntax']} · model {model['name']} {model['version']} · "
        f"{machine['cpus']} CPUs ({machine['cpu']}) · load {report['load_average_before'][0]}"
        f" → {report['load_average_after'][0]} · median of {report['settings']['repeat']}"
    )
    header = f"{'mode':<7} {'conc':>4} {'req':>6} {'fail':>4} {'req/s':>8} {'desc/s':>8}"
    header += f" {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'client':>6}"
    header += f" {'srv cpu ms/req':>14}"
    print(header)
    print("-" * len(header))
    for r in report["results"]:
        print(
            f"{r['mode']:<7} {r['concurrency']:>4} {r['requests']:>6} {r['failed']:>4} "
            f"{r['requests_per_s']:>8.1f} {r['descriptions_per_s']:>8.1f} {r['p50_ms']:>7.1f} "
            f"{r['p90_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} "
            f"{r['client_cpu_share']:>6.2f} {r['server_cpu_ms_per_request']:>14}"
        )


if __name__ == "__main__":
    sys.exit(main())
