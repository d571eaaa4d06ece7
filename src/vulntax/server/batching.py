"""Micro-batching: requests that arrive together are predicted together, off the event loop.

Prediction is CPU-bound and a linear model costs far less per description in a
batch than one at a time (scipy's per-call overhead dominates a single text). So
requests are not predicted one by one: each puts its items on a queue, and one
worker predicts everything waiting — up to ``max_items`` descriptions — in a single
``Predictor.predict_batch`` call on a worker thread. While that call runs, new
requests queue up and form the next batch. Under no load a request is predicted
at once (a batch of one); under load, batches grow and throughput rises instead
of latency.

One worker at a time also means the predictor is never used by two threads at
once, and the event loop keeps one core for HTTP on a 2-core machine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Items = Sequence[tuple[str | None, str] | tuple[str | None, str, Any]]  # (id, text[, metadata])
PredictBatch = Callable[[Items], list[dict[str, Any]]]


@dataclass
class _Job:
    items: Items
    done: asyncio.Future[list[dict[str, Any]]] = field(repr=False)


class MicroBatcher:
    """Queue prediction jobs and run them in batches on a worker thread.

    Use inside a running event loop: ``start()``, then ``await predict(items)`` from
    any number of tasks, then ``await stop()``.
    """

    def __init__(self, predict_batch: PredictBatch, max_items: int = 64) -> None:
        self._predict_batch = predict_batch
        self.max_items = max_items
        self._pending: deque[_Job] = deque()
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        #: batches predicted and descriptions in them, since start
        self.batches = 0
        self.items = 0

    def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="vulntax-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        while self._pending:
            self._pending.popleft().done.cancel()

    async def predict(self, items: Items) -> list[dict[str, Any]]:
        """Prediction objects for ``items``, in order (what ``predict_batch`` answers)."""
        if self._wakeup is None:
            raise RuntimeError("MicroBatcher.start() was not called")
        job = _Job(items, asyncio.get_running_loop().create_future())
        self._pending.append(job)
        self._wakeup.set()
        return await job.done

    async def _run(self) -> None:
        assert self._wakeup is not None
        pending = self._pending
        while True:
            if not pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            jobs = [pending.popleft()]  # always at least one job, however large
            size = len(jobs[0].items)
            while pending and size + len(pending[0].items) <= self.max_items:
                size += len(pending[0].items)
                jobs.append(pending.popleft())
            jobs = [j for j in jobs if not j.done.done()]  # drop requests whose client left
            if jobs:
                await self._run_batch(jobs)

    async def _run_batch(self, jobs: list[_Job]) -> None:
        merged = [item for job in jobs for item in job.items]
        try:
            results = await asyncio.to_thread(self._predict_batch, merged)
        except asyncio.CancelledError:
            for job in jobs:
                job.done.cancel()
            raise
        except Exception as exc:  # handed to each request, which maps it to an answer
            for job in jobs:
                if not job.done.done():
                    job.done.set_exception(exc)
            return
        self.batches += 1
        self.items += len(merged)
        start = 0
        for job in jobs:
            end = start + len(job.items)
            if not job.done.done():
                job.done.set_result(results[start:end])
            start = end
