"""The command modules joined into ``vulntax``; each has ``register(app)``."""

from __future__ import annotations

from types import ModuleType

from vulntax.cli import dataset, ingest, predict, serve, taxonomy, train

MODULES: list[ModuleType] = [
    predict,
    train,
    dataset,
    taxonomy,
    ingest,
    serve,
]
