"""Where the time goes, sampled with py-spy: batch prediction and HTTP requests.

    python bench/pyspy_profile.py --dataset DIR [--out docs/img] [--raw runs/profile] [--seconds 10]

Needs ``py-spy`` (``pip install py-spy``; as root, or with ptrace allowed, to attach).

* **batch**: ``vulntax predict --input FEED --output OUT`` on ``bench/throughput.py``'s
  corpus written as an NVD 2.0 feed, sampled from start to end with its workers
  (``py-spy record --subprocesses``).
* **HTTP**: ``vulntax serve`` (and its prediction process) sampled for ``--seconds`` while
  8 clients send it single descriptions in a closed loop (``bench/load.py``'s client, on
  the same machine).

Threads that wait (for work, a lock, a socket) are sampled too: a sample whose innermost
frame waits counts as "waiting" and is left out of the shares. Each profile is written as
py-spy's raw collapsed stacks (``*.txt``) and drawn as a flame graph (``*.png``: the
root at the bottom, width = share of samples, colour = the stage a frame itself names, grey
when it names none; 60 frames deep at most). Every sample is put in one
stage by its innermost frame that names one (the rules are ``STAGES``); the table of
shares is printed as Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # bench/load.py: the server runner and the closed-loop client
import throughput  # bench/throughput.py: the corpus

# (stage, substrings of a frame "function (file:line)"), tried from the innermost frame out
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("evidence", ("_top_contributions", "lookup (", "dense (")),
    ("normalise", ("model_input",)),
    ("featurise", ("tfidf.py",)),
    ("model", ("predict_features", "_probabilities", "attack_mapper.py", "calibration.py")),
    ("decode", ("predictor.py",)),
    ("serialise", ("encode (", "orjson", "render (", "_FastJSON")),
    ("read/parse", ("vulntax/ingest/", "ijson", "items_of")),
    ("write", ("write (",)),
    ("pool / IPC", ("multiprocessing", "concurrent/futures", "pickle")),
    ("start-up", ("<module>", "importlib", "load_model", "load_catalog", "Predictor.__init__")),
    ("HTTP validation", ("pydantic", "fastapi/_compat", "fastapi/dependencies")),
    (
        "HTTP framework",
        ("fastapi", "starlette", "bodylimit", "fastpath.py", "routes.py", "handlers.py"),
    ),
    ("HTTP server", ("uvicorn", "h11", "httptools")),
    ("event loop", ("asyncio", "uvloop", "selectors", "batching.py")),
    ("threads", ("threading.py",)),
]
MAX_DEPTH = 60  # frames drawn (import machinery nests deeper)
COLOURS = {name: f"C{i % 10}" for i, (name, _) in enumerate(STAGES)}


WAITS = ("Condition.wait", "Queue.get", "concurrent/futures/thread.py:8", "select (", "poll (")


def stage_of(frames: list[str]) -> str:
    if frames and any(w in frames[-1] for w in WAITS):
        return "waiting"
    for frame in reversed(frames):
        for name, marks in STAGES:
            if any(m in frame for m in marks):
                return name
    return "other"


def read_raw(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = [f for f in stack.split(";") if not f.startswith("process ")]
            stacks.append((frames, int(count)))
    return stacks


def table(stacks: list[tuple[list[str], int]], title: str) -> str:
    shares: Counter[str] = Counter()
    for frames, count in stacks:
        shares[stage_of(frames)] += count
    waiting = shares.pop("waiting", 0)
    total = sum(shares.values()) or 1
    rows = [
        f"| {name} | {count:,} | {100 * count / total:.1f} % |"
        for name, count in shares.most_common()
    ]
    return "\n".join(
        [
            f"{title} ({total:,} samples at work; {waiting:,} waiting, left out)",
            "",
            "| stage | samples | share |",
            "|---|---:|---:|",
            *rows,
        ]
    )


def flame_png(stacks: list[tuple[list[str], int]], out: Path, title: str) -> None:
    """A flame graph: each frame a bar as wide as its samples, callers below callees."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tree: dict[tuple[str, ...], int] = defaultdict(int)
    stage: dict[tuple[str, ...], str] = {}
    for frames, count in stacks:
        for depth in range(1, len(frames) + 1):
            key = tuple(frames[:depth])
            tree[key] += count
            stage.setdefault(key, stage_of([frames[depth - 1]]))  # the frame's own stage
    total = sum(c for f, c in stacks) or 1
    depth_max = min(MAX_DEPTH, max((len(k) for k in tree), default=1))
    fig, ax = plt.subplots(figsize=(16, max(4, 0.2 * depth_max)))
    starts: dict[tuple[str, ...], float] = {(): 0.0}
    for key in sorted((k for k in tree if len(k) <= MAX_DEPTH), key=lambda k: (len(k), k)):
        parent = key[:-1]
        x = starts.get((*parent, "\x00next"), starts.get(parent, 0.0))
        width = tree[key] / total
        starts[(*parent, "\x00next")] = x + width
        starts[key] = x
        colour = COLOURS.get(stage[key], "0.75")
        ax.add_patch(plt.Rectangle((x, len(key) - 1), width, 0.95, color=colour, lw=0))
        if width > 0.04:
            name = key[-1].split(" (")[0]
            ax.text(x + 0.002, len(key) - 0.55, name[: int(width * 160)], fontsize=6, va="center")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLOURS.values()]
    ax.legend(handles, list(COLOURS), loc="upper right", fontsize=7, ncol=3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, depth_max + 4)
    ax.set_xlabel("share of samples")
    ax.set_yticks([])
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def spy(args: list[str], raw: Path, rate: int) -> None:
    subprocess.run(
        [
            "py-spy",
            "record",
            "--gil",
            "--format",
            "raw",
            "--rate",
            str(rate),
            "-o",
            str(raw),
            *args,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def profile_batch(dataset: str, out: Path, raw_dir: Path, rate: int) -> str:
    from vulntax.dataset.store import load_dataset

    cols = load_dataset(dataset, verify=False).columns("test", ["id", "description"])
    raw = raw_dir / "profile-batch.txt"
    with tempfile.TemporaryDirectory() as tmp:
        corpus = throughput.write_corpus(list(cols["id"]), list(cols["description"]), Path(tmp))
        command = [sys.executable, "-m", "vulntax", "predict", "--input"]
        command += [str(corpus["NVD 2.0 feed"]), "--output", str(Path(tmp) / "o.jsonl"), "-q"]
        spy(["--subprocesses", "--", *command], raw, rate)
    stacks = read_raw(raw)
    title = f"vulntax predict --input (NVD 2.0 feed, {len(cols['id']):,} records)"
    flame_png(stacks, out / "profile-batch.png", title)
    return table(stacks, f"batch: {len(cols['id']):,} records")


def profile_http(out: Path, raw_dir: Path, seconds: float, rate: int) -> str:
    texts = load._descriptions(load.REPO.parent / "shared" / "data", load.TEXTS)
    raw = raw_dir / "profile-http.txt"
    with load.Server(None) as server:
        spied = threading.Thread(
            target=spy,
            args=(
                [
                    "--subprocesses",
                    "--pid",
                    str(server.process.pid),
                    "--duration",
                    str(int(seconds)),
                ],
                raw,
                rate,
            ),
        )
        spied.start()
        time.sleep(0.5)
        settings = SimpleNamespace(max_requests=10**9, batch_size=1, client="raw")
        result = asyncio.run(load._cell(server.url, texts, "single", 8, seconds, settings))
        spied.join()
    stacks = read_raw(raw)
    title = "vulntax serve: single descriptions, 8 clients (HTTP and prediction processes)"
    flame_png(stacks, out / "profile-http.png", title)
    return table(stacks, f"HTTP: {result['requests']:,} requests, {result['failed']} failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="a built dataset folder")
    parser.add_argument("--out", default="docs/img", help="folder for the flame graphs (.png)")
    parser.add_argument("--raw", default="runs/profile", help="folder for the raw stacks (.txt)")
    parser.add_argument("--seconds", type=float, default=10.0, help="HTTP profile length")
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("batch", "http"),
        default=["batch", "http"],
        help="what to profile (default: both)",
    )
    args = parser.parse_args()
    out = Path(args.out)
    raw = Path(args.raw)
    for folder in (out, raw):
        folder.mkdir(parents=True, exist_ok=True)
    if "batch" in args.parts:
        print(profile_batch(args.dataset, out, raw, args.rate), end="\n\n")
    if "http" in args.parts:
        print(profile_http(out, raw, args.seconds, args.rate), end="\n\n")
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}; wrote {out}/profile-{{batch,http}}.png, "
        f"{raw}/profile-{{batch,http}}.txt"
    )


if __name__ == "__main__":
    main()
