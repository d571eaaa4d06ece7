"""The list of command modules joined into ``vulntax``; each has ``register(app)``."""

from __future__ import annotations

from types import ModuleType

MODULES: list[ModuleType] = []
