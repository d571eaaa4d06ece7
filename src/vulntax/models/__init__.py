"""The model registry: a plain dict of kinds, imported lazily.

``KINDS`` maps a kind name to ``"module:Class"``, so that listing or loading a
linear model never imports torch. :func:`load_model` reads ``config.json``,
checks it, and hands the directory to the kind's ``load``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from vulntax.errors import ModelError
from vulntax.models.base import CONFIG, FORMAT_VERSION, Classifier, read_json

KINDS: dict[str, str] = {
    "linear": "vulntax.models.linear:LinearModel",
    "composite": "vulntax.models.composite:CompositeModel",
    "multitask": "vulntax.models.multitask.model:MultitaskModel",
    "lsnet": "vulntax.models.lsnet.model:LSNetModel",
}

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "default_model"


def model_class(kind: str) -> type[Any]:
    try:
        target = KINDS[kind]
    except KeyError:
        raise ModelError(
            f"unknown model kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}"
        ) from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(
            f"model kind {kind!r} needs a package that is not installed ({exc.name}); "
            "install vulntax with its extra, e.g. pip install 'vulntax[neural]'"
        ) from exc
    cls: type[Any] = getattr(module, class_name)
    return cls


def load_model(path: str | Path | None = None) -> Classifier:
    """Load a saved model directory; ``None`` loads the default model shipped with vulntax."""
    folder = DEFAULT_MODEL_DIR if path is None else Path(path)
    if not folder.is_dir():
        if path is None:
            raise ModelError(f"the default model is missing from this installation ({folder})")
        raise ModelError(f"{folder}: no such model directory")
    config = read_json(folder / CONFIG, "model config")
    if not isinstance(config, dict) or "kind" not in config:
        raise ModelError(f"{folder / CONFIG}: not a vulntax model config (no 'kind')")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{folder}: model format version {config.get('format_version')!r} is not supported "
            f"by this vulntax (it reads version {FORMAT_VERSION})"
        )
    cls = model_class(str(config["kind"]))
    model: Classifier = cls.load(folder)
    return model
