"""Progress bars for long work, on stderr, so that stdout stays clean for data.

``progress(enabled)`` returns a rich Progress (or a silent stand-in when
disabled, e.g. ``--quiet`` or in tests), used as::

    with progress(enabled) as bar:
        task = bar.add_task("reading NVD feeds", total=len(files))
        ...
        bar.advance(task)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _Silent:
    def add_task(self, description: str, total: float | None = None, **_: Any) -> int:
        return 0

    def advance(self, task: int, advance: float = 1) -> None:
        pass

    def update(self, task: int, **_: Any) -> None:
        pass

    def log(self, *_: Any) -> None:
        pass


@contextmanager
def progress(enabled: bool = True) -> Iterator[Any]:
    if not enabled:
        yield _Silent()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with bar:
        yield bar
