"""The command modules joined into ``vulntax``; each has ``register(app)``."""

from __future__ import annotations

from types import ModuleType

from vulntax.cli import (
    analyze,
    compose,
    dataset,
    evaluate,
    finetune,
    ingest,
    predict,
    serve,
    taxonomy,
    train,
)

MODULES: list[ModuleType] = [
    predict,
    serve,
    train,
    compose,
    evaluate,
    finetune,
    dataset,
    taxonomy,
    ingest,
    analyze,
]
