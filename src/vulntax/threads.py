"""One BLAS thread per process while predicting.

The linear model's dense products are tiny (a batch × a few hundred classes), and
OpenBLAS's thread pool costs far more than it saves on them: on the 2-core machine a
(512 × 258) @ (258 × 10) product took 0.9 ms of CPU with the default threads against
0.06 ms with one, and the extra threads compete with the batch workers and the HTTP
event loop for the same two cores. ``vulntax predict --input`` and ``vulntax serve`` call
:func:`single_blas_thread` once per process; the Python API leaves the setting alone.
"""

from __future__ import annotations

_done = False


def single_blas_thread() -> None:
    """Limit BLAS libraries (OpenBLAS, MKL) loaded in this process to one thread."""
    global _done
    if _done:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
    _done = True
