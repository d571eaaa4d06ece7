"""Batch prediction over a file: stream in, JSON lines out, in input order.

The reader streams the input (any format :mod:`vulntax.ingest` detects) in
batches; each batch is predicted and serialised to JSON lines, in the calling
process or in ``workers`` forked processes. At most ``2 × workers`` batches
are in flight, so memory stays flat however large the input is, and lines are
written in input order. A record that cannot be classified (no English
description, empty text) becomes a line with an ``error`` field; it never
stops the run.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from vulntax.records import CveRecord, IngestReport

Item = tuple[str | None, str] | dict[str, Any]

_WORKER_PREDICTOR: Any = None  # set in the parent before forking; inherited by the workers


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


def encode(results: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in results)


def items_of(path: Path, report: IngestReport) -> Iterator[Item]:
    """(id, description) for each readable record of ``path``; an error object otherwise."""
    from vulntax.ingest import read

    for item in read(path, report=report):
        if isinstance(item, CveRecord):
            yield (item.id, item.description)
        else:
            yield {"id": item.id, "error": item.reason}


def predict_lines(
    predictor: Any,
    items: Iterable[Item],
    sink: IO[bytes],
    batch_size: int = 512,
    workers: int = 1,
    on_batch: Callable[[int], None] | None = None,
) -> BatchResult:
    """Predict ``items`` and write one JSON line each to ``sink``; returns the counts."""
    result = BatchResult()

    def write(block: bytes, count: int) -> None:
        sink.write(block)
        result.lines += count
        result.errors += block.count(b'"error":')
        if on_batch:
            on_batch(count)

    batches = _batches(items, batch_size)
    if workers <= 1:
        for batch in batches:
            write(_predict(predictor, batch), len(batch))
        return result

    global _WORKER_PREDICTOR
    _WORKER_PREDICTOR = predictor
    context = multiprocessing.get_context("fork")  # workers inherit the loaded model
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            pending: deque[tuple[Future[bytes], int]] = deque()
            for batch in batches:
                pending.append((pool.submit(_work, batch), len(batch)))
                if len(pending) >= 2 * workers:
                    future, count = pending.popleft()
                    write(future.result(), count)
            while pending:
                future, count = pending.popleft()
                write(future.result(), count)
    finally:
        _WORKER_PREDICTOR = None
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


def _predict(predictor: Any, batch: list[Item]) -> bytes:
    pairs = [b for b in batch if isinstance(b, tuple)]
    predicted = iter(predictor.predict_batch(pairs))
    return encode([next(predicted) if isinstance(b, tuple) else b for b in batch])


def _work(batch: list[Item]) -> bytes:
    from vulntax.runtime import single_blas_thread

    single_blas_thread()  # once per worker (inherited when forked; set again when not)
    return _predict(_WORKER_PREDICTOR, batch)
