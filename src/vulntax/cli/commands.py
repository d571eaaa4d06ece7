"""The list of command modules joined into ``vulntax``; each has ``register(app)``."""

from __future__ import annotations

from types import ModuleType

from vulntax.cli import ingest

MODULES: list[ModuleType] = [ingest]
