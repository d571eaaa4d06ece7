"""Per-process settings for predicting at volume: one BLAS thread, the loaded model out of the GC.

* **One BLAS thread.** The linear model's dense products are tiny (a batch × a few
  hundred classes), and OpenBLAS's thread pool costs far more than it saves on them: on
  the 2-core machine a (512 × 258) @ (258 × 10) product took 0.9 ms of CPU with the default
  threads against 0.06 ms with one, and the extra threads compete with the batch workers
  and the HTTP event loop for the same two cores.
* **Loaded objects frozen** (:func:`gc.freeze`). Decoding builds dozens of small dicts per
  record, so the cyclic garbage collector runs often, and each full collection walks every
  object of the loaded model and catalog again; frozen, they are skipped (batch prediction
  took ≈ 10 % less CPU). It also keeps forked workers from writing to the pages they share.

``vulntax predict --input``, its workers and ``vulntax serve`` (and its prediction
process) call :func:`for_prediction` once the model is loaded; the Python API leaves both
settings alone.
"""

from __future__ import annotations

import gc

_blas_limited = False


def single_blas_thread() -> None:
    """Limit BLAS libraries (OpenBLAS, MKL) loaded in this process to one thread."""
    global _blas_limited
    if _blas_limited:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
    _blas_limited = True


def for_prediction() -> None:
    """One BLAS thread, and every object alive now (the loaded model) left out of the GC."""
    single_blas_thread()
    gc.freeze()
