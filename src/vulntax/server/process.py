"""Prediction in a process of its own, beside the HTTP server's process.

With prediction on a thread, the event loop and the predictor share one interpreter
lock: while a batch is decoded the loop cannot parse the requests that wait, and on two
cores one of them idles. :class:`PredictionProcess` loads the same model in a second
process and answers ``predict_batch`` over a pipe, so HTTP and prediction run on
different cores. The micro-batcher's worker thread only waits on the pipe (without the
lock).

The process is *spawned*, not forked: it loads the model itself (≈ 0.7 s with the shipped
model, and its memory a second time), which is safe whatever the model runs on (a
forked copy of a process whose torch threads have started can deadlock).

Answers come back serialised: each prediction as the JSON bytes the service sends
(wrapped in :class:`orjson.Fragment`, which orjson writes as it is), each unusable item as
its ``{"id", "error"}`` dict — so the server process neither rebuilds nor re-encodes the
prediction objects.
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

import orjson

from vulntax.errors import ModelError
from vulntax.server.batching import Items

READY = "ready"
START_TIMEOUT = 300  # seconds for the process to load its model


class PredictionProcess:
    """``predict_batch`` of a :class:`~vulntax.predictor.Predictor` in a spawned process.

    One call at a time (the micro-batcher makes one); ``close()`` stops the process.
    """

    def __init__(self, model: str | Path | None, data_dir: str | Path | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, None if model is None else str(model), data_dir and str(data_dir)),
            name="vulntax-predict",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._lock = threading.Lock()
        try:
            if not self._conn.poll(START_TIMEOUT):
                raise ModelError(f"the prediction process did not start in {START_TIMEOUT} s")
            status = self._conn.recv()
        except (EOFError, OSError):
            status = f"it stopped while starting (exit code {self._process.exitcode})"
        except ModelError:
            self.close()
            raise
        if status != READY:
            self.close()
            raise ModelError(f"the prediction process could not load the model: {status}")

    def predict_batch(self, items: Items) -> list[Any]:
        """Prediction objects as ``orjson.Fragment``; unusable items as error dicts."""
        with self._lock:
            self._conn.send(list(items))
            status, answers = self._conn.recv()
        if status != READY:  # a bug in the process: the requests of this batch answer 500
            raise RuntimeError(f"prediction process: {answers}")
        return [orjson.loads(raw) if error else orjson.Fragment(raw) for error, raw in answers]

    def close(self) -> None:
        self._conn.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def _serve(conn: Any, model: str | None, data_dir: str | None) -> None:
    """The process: load the model, then answer batches until the pipe closes."""
    import signal

    from vulntax.runtime import for_prediction

    # Ctrl-C reaches the whole process group: the server shuts down and closes the pipe,
    # which ends this process; it must not stop (with a traceback) on its own first
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    try:
        from vulntax.predictor import Predictor

        predictor = Predictor(model, data_dir=data_dir)
    except Exception as exc:  # reported to the server, which stops with a one-line error
        conn.send(f"{type(exc).__name__}: {exc}")
        return
    for_prediction()
    conn.send(READY)
    while True:
        try:
            items = conn.recv()
        except (EOFError, OSError):  # the server closed the pipe or went away
            return
        try:
            results = predictor.predict_batch(items)
            conn.send((READY, [("error" in r, orjson.dumps(r)) for r in results]))
        except Exception as exc:  # a bug: this batch's requests answer 500, the process goes on
            conn.send(("bug", f"{type(exc).__name__}: {exc}"))
