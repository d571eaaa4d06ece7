"""Models shipped inside the package, chosen by name: ``--model accurate``.

========== ==================================== =============================
name       directory (inside the package)        what
========== ==================================== =============================
default    ``vulntax/default_model``             the linear model (the default)
accurate   ``vulntax/accurate_model``            the default model and an int8
                                                 fine-tuned MiniLM multitask
                                                 model, averaged per head (a
                                                 composite that references the
                                                 default; bench/finetune/accurate.py)
========== ==================================== =============================

**Precedence.** A bare name (``accurate``, ``default``: no path separator) always means
the shipped model, even if the working directory has a folder of that name; write
``./accurate`` (or any path with a separator) for the folder. Anything else is a path.
A named model that is not part of this installation is a one-line
:class:`~vulntax.errors.ModelError`.
"""

from __future__ import annotations

import os
from pathlib import Path

from vulntax.errors import ModelError

PACKAGE_DIR = Path(__file__).resolve().parent.parent
NAMED: dict[str, str] = {"default": "default_model", "accurate": "accurate_model"}
_HOW = {
    "accurate": "it is installed with a vulntax release that ships it "
    "(see docs/finetune.md); use the default model, or --model DIR",
}


def named_dir(name: str) -> Path:
    """The package directory of the shipped model ``name`` (whether it exists or not)."""
    return PACKAGE_DIR / NAMED[name]


def is_name(model: str | Path | None) -> bool:
    """Whether ``model`` is a shipped model's name: a ``str`` such as ``"accurate"`` (a
    :class:`~pathlib.Path` is always a path, and ``./accurate`` is not a name)."""
    return isinstance(model, str) and model in NAMED


def resolve_model_dir(model: str | Path | None) -> Path:
    """The directory of ``model``: None or ``"default"`` → the shipped default model, a
    shipped model's name → its package directory, anything else → that path.

    Raises ModelError (one line) for a named model this installation lacks.
    """
    if model is None:
        return named_dir("default")
    if not is_name(model):
        return Path(model)
    name = str(model)
    folder = named_dir(name)
    if not folder.is_dir():
        hint = _HOW.get(name, "this installation is incomplete; reinstall vulntax")
        local = Path.cwd() / name
        if local.is_dir():
            hint += f"; for the folder {local}, write --model ./{name}"
        raise ModelError(f"the {name!r} model is not part of this installation: {hint}")
    return folder


def spelling(model: str | Path | None) -> str | None:
    """``model`` as a string that resolves to the same model (``Path("accurate")`` is the
    folder: ``./accurate``), for handing to another process."""
    if model is None:
        return None
    if isinstance(model, Path) and str(model) in NAMED:
        return f".{os.sep}{model}"
    return str(model)
