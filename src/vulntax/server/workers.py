"""Several HTTP worker processes on one port: ``vulntax serve --workers N``.

One process serves HTTP and predicts in turn, so on two cores it uses about one: the
event loop, request parsing, validation and prediction all wait for the same
interpreter lock. With ``--workers N`` uvicorn's supervisor binds the port once and
*spawns* N worker processes that share it; each loads the model itself (its memory N
times, ≈ 0.7 s each with the shipped model) and predicts on its own micro-batching
thread, so HTTP and prediction spread over every core. Spawned, never forked: a forked
copy of a process whose torch threads have started can deadlock.

A spawned worker knows only what its environment says: :func:`app_from_env` reads the
model and the data folder from :data:`ENV_MODEL` and :data:`ENV_DATA_DIR`, which
``vulntax serve`` sets before it starts the workers.
"""

from __future__ import annotations

import os
from typing import Any

ENV_MODEL = "VULNTAX_SERVE_MODEL"
ENV_DATA_DIR = "VULNTAX_SERVE_DATA_DIR"
APP_FACTORY = "vulntax.server.workers:app_from_env"


def environment(model: str | None, data_dir: str | None) -> dict[str, str]:
    """The variables a worker reads (empty values: the shipped model, the shipped catalogs)."""
    return {ENV_MODEL: model or "", ENV_DATA_DIR: data_dir or ""}


def app_from_env() -> Any:
    """The app of one worker: its own predictor, predicting on a thread of this process."""
    from vulntax.predictor import Predictor
    from vulntax.runtime import for_prediction
    from vulntax.server.app import create_app

    predictor = Predictor(
        os.environ.get(ENV_MODEL) or None, data_dir=os.environ.get(ENV_DATA_DIR) or None
    )
    for_prediction()
    return create_app(predictor)
