"""Batch prediction over a file: stream in, JSON lines out, in input order.

The reader streams the input (any format :mod:`vulntax.ingest` detects) in
batches; each batch is predicted and serialised to JSON lines, in the calling
process or in ``workers`` worker processes. At most ``2 × workers`` batches
are in flight, so memory stays flat however large the input is, and lines are
written in input order. A record that cannot be classified (no English
description, empty text) becomes a line with an ``error`` field; it never
stops the run.

How the workers start depends on what the process has loaded
(:func:`pool_plan`):

* **fork** — a model built on numpy/scipy alone (the linear default): forked
  workers inherit the loaded model, copy-on-write, with no start-up cost.
* **in the calling process** — a model that uses torch (LSNet, multitask, a
  composite with either). Forking a process after torch has started its
  OpenMP / intra-op thread pools deadlocks the child (the workers sit on a
  futex forever), so such a model is never forked. Spawned workers would each
  load their own copy of the model and split the cores between them; measured
  on 2 cores, predicting in the calling process with torch's own threads was
  as fast or faster and uses one copy of the weights (docs/results.md,
  "Batch throughput per model kind"), so that is what runs.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from vulntax.errors import UsageError
from vulntax.records import CveRecord, IngestReport

# (id, text), or (id, text, record) where the record's metadata or JSON is wanted; an error object
Item = tuple[str | None, str] | tuple[str | None, str, CveRecord] | dict[str, Any]
Serialiser = Callable[[list[Item], list[dict[str, Any]]], bytes]

_WORKER_PREDICTOR: Any = None  # set in the parent before forking; inherited by the workers
_WORKER_SERIALISE: Any = None

# Native libraries that start thread pools a forked child cannot use (see the module docstring).
FORK_UNSAFE_MODULES = ("torch", "onnxruntime")


@dataclass
class BatchResult:
    lines: int = 0
    errors: int = 0


def default_workers() -> int:
    """One worker per available CPU (at most 8); 1 means no extra processes."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


START_METHODS = ("auto", "inline", "fork", "spawn")


def pool_plan(workers: int, start: str = "auto") -> tuple[str, int]:
    """How batches are predicted: ``(method, workers)``, method one of inline / fork / spawn.

    ``auto`` forks workers only while no module in :data:`FORK_UNSAFE_MODULES`
    is loaded in this process; otherwise everything runs in the calling process,
    where the native library uses every core with its own threads. ``fork`` is
    refused in that case rather than left to hang; ``spawn`` starts fresh
    workers that each load the model (measured, not the default).
    """
    if start not in START_METHODS:
        raise UsageError(f"unknown start method {start!r}; one of {', '.join(START_METHODS)}")
    unsafe = [name for name in FORK_UNSAFE_MODULES if name in sys.modules]
    if start == "fork" and unsafe:
        raise UsageError(
            f"cannot fork workers after {unsafe[0]} is loaded (the workers would deadlock); "
            "use the automatic choice"
        )
    if workers <= 1 or start == "inline" or (start == "auto" and unsafe):
        return "inline", 1
    return ("spawn" if start == "spawn" else "fork"), workers


def encode(results: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in results)


def items_of(
    path: Path, report: IngestReport, with_records: bool = False, keep_raw: bool = False
) -> Iterator[Item]:
    """(id, description) for each readable record of ``path``; an error object otherwise.

    ``with_records`` adds the record itself where it carries more than its text (its
    metadata; with ``keep_raw`` its CVE JSON 5).
    """
    from vulntax.ingest import read

    for item in read(path, report=report, keep_raw=keep_raw):
        if isinstance(item, CveRecord):
            carries = with_records and (
                item.raw is not None or item.assigner or item.references or item.cwes or item.cvss
            )  # a record with nothing beside its text travels as (id, text): less to pickle
            yield (item.id, item.description, item) if carries else (item.id, item.description)
        else:
            yield {"id": item.id, "error": item.reason}


def predict_lines(
    predictor: Any,
    items: Iterable[Item],
    sink: IO[bytes],
    batch_size: int = 512,
    workers: int = 1,
    on_batch: Callable[[int], None] | None = None,
    serialise: Serialiser | None = None,
    start: str = "auto",
) -> BatchResult:
    """Predict ``items`` and write them to ``sink`` (``serialise``: JSON lines by default).

    ``start`` chooses how workers start (:func:`pool_plan`); ``spawn`` needs a
    predictor that knows where its model came from (``predictor.source``) and a
    module-level ``serialise``.
    """
    result = BatchResult()

    def write(done: tuple[bytes, int], count: int) -> None:
        block, errors = done
        sink.write(block)
        result.lines += count
        result.errors += errors
        if on_batch:
            on_batch(count)

    batches = _batches(items, batch_size)
    method, workers = pool_plan(workers, start)
    if method == "inline":
        for batch in batches:
            write(_predict(predictor, batch, serialise), len(batch))
        return result

    global _WORKER_PREDICTOR, _WORKER_SERIALISE
    if method == "fork":  # the workers inherit the loaded model
        _WORKER_PREDICTOR, _WORKER_SERIALISE = predictor, serialise
        options: dict[str, Any] = {"mp_context": multiprocessing.get_context("fork")}
    else:  # each fresh worker loads the model and takes its share of the cores
        threads = max(1, default_workers() // workers)
        options = {
            "mp_context": multiprocessing.get_context("spawn"),
            "initializer": _load_worker,
            "initargs": (predictor.source, threads, serialise),
        }
    try:
        with ProcessPoolExecutor(max_workers=workers, **options) as pool:
            pending: deque[tuple[Future[tuple[bytes, int]], int]] = deque()
            for batch in batches:
                pending.append((pool.submit(_work, batch), len(batch)))
                if len(pending) >= 2 * workers:
                    future, count = pending.popleft()
                    write(future.result(), count)
            while pending:
                future, count = pending.popleft()
                write(future.result(), count)
    finally:
        _WORKER_PREDICTOR = _WORKER_SERIALISE = None
    return result


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _predict(
    predictor: Any, batch: list[Item], serialise: Serialiser | None = None
) -> tuple[bytes, int]:
    """The serialised block of a batch, and how many of its records are errors."""
    todo = [b for b in batch if isinstance(b, tuple)]
    records = [b[2] if len(b) > 2 else None for b in todo]
    pairs = [(b[0], b[1]) for b in todo]
    if any(r is not None for r in records):
        predicted = iter(predictor.predict_batch(pairs, metadata=records))
    else:
        predicted = iter(predictor.predict_batch(pairs))
    results = [next(predicted) if isinstance(b, tuple) else b for b in batch]
    errors = sum(1 for r in results if "error" in r)
    return (serialise or _encode_batch)(batch, results), errors


def _encode_batch(batch: list[Item], results: list[dict[str, Any]]) -> bytes:
    return encode(results)


def _work(batch: list[Item]) -> tuple[bytes, int]:
    from vulntax.runtime import single_blas_thread

    single_blas_thread()  # once per worker (inherited when forked; set again when not)
    return _predict(_WORKER_PREDICTOR, batch, _WORKER_SERIALISE)


def _load_worker(source: dict[str, Any], threads: int, serialise: Serialiser | None) -> None:
    """A spawned worker: limit native threads to its share, then load the model."""
    global _WORKER_PREDICTOR, _WORKER_SERIALISE
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)
    from vulntax.predictor import Predictor
    from vulntax.runtime import for_prediction

    _WORKER_PREDICTOR, _WORKER_SERIALISE = Predictor(**source), serialise
    for_prediction()  # what the parent does before it forks
