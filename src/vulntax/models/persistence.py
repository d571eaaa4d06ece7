"""One persistence path for every model kind: directories of JSON and safetensors files.

A saved model is a directory of fixed file names (:data:`~vulntax.models.base.CONFIG`,
:data:`~vulntax.models.base.LABELS`, :data:`~vulntax.models.base.WEIGHTS`), the files its
kind adds (a vocabulary, a tokenizer, a CWE hierarchy), and, for some directories, optional
heads as pairs of files (``attack.*``, ``capec_rank.*``, ``cvss4.*``, ``metadata.*``).
Every kind reads and writes them through this module, so all of them share:

* **formats** — JSON (UTF-8, indented, one trailing newline) and safetensors. Nothing is
  ever unpickled: a weights file that is not valid safetensors (a pickle, a truncated or
  overwritten copy) is refused;
* **errors** — a :class:`~vulntax.errors.ModelError` that names the file and says what is
  wrong: missing (``not a complete model directory (X is missing)``), unreadable
  (``cannot read the ...``, ``not a readable safetensors file``), a tensor missing or of
  the wrong shape, a stored matrix that does not fit the label lists;
* **permissions** — weights files are made readable by all (safetensors writes 0600), so
  an installed copy serves every user.

Writing is byte-for-byte what the kinds wrote before this module existed; torch is
imported only for the kinds that store torch tensors (a linear model never imports it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import ModelError
from vulntax.models.base import CONFIG, LABELS, WEIGHTS, Labels

# a file a kind adds to its directory: its text (UTF-8), or a function writing it at a path
ExtraFile = str | Callable[[Path], None]


# ---------------------------------------------------------------------- JSON
def json_text(data: Any, *, indent: int = 2, ensure_ascii: bool = False) -> str:
    """``data`` as the JSON text model files hold (indented, ending in a newline)."""
    return json.dumps(data, indent=indent, ensure_ascii=ensure_ascii) + "\n"


def write_json(path: Path, data: Any, *, indent: int = 2, ensure_ascii: bool = False) -> None:
    path.write_text(json_text(data, indent=indent, ensure_ascii=ensure_ascii), encoding="utf-8")


def read_json(path: Path, what: str) -> Any:
    """Read a JSON file of a model directory, or raise a ModelError saying what is wrong."""
    if not path.is_file():
        raise ModelError(f"{path.parent}: not a complete model directory ({path.name} is missing)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read the {what} ({exc})") from exc


# ---------------------------------------------------------------------- files
def require(folder: Path, *names: str) -> None:
    """ModelError unless every one of ``names`` is a file in ``folder``."""
    for name in names:
        if not (folder / name).is_file():
            raise ModelError(f"{folder}: not a complete model directory ({name} is missing)")


def optional_files(folder: Path, *names: str) -> bool:
    """Whether ``folder`` has the optional files ``names`` (all or none; ModelError if some)."""
    present = [(folder / name).is_file() for name in names]
    if not any(present) and not any((folder / name).exists() for name in names):
        return False
    if not all(present):
        missing = ", ".join(n for n, here in zip(names, present, strict=True) if not here)
        raise ModelError(f"{folder}: {' and '.join(names)} come together ({missing} is missing)")
    return True


# ---------------------------------------------------------------------- safetensors
def write_tensors(path: Path, tensors: Mapping[str, Any]) -> None:
    """Write numpy arrays, or torch tensors, as one safetensors file readable by all."""
    if all(isinstance(v, np.ndarray) for v in tensors.values()):
        from safetensors.numpy import save_file
    else:
        from safetensors.torch import save_file  # type: ignore[assignment]
    save_file(dict(tensors), str(path))
    path.chmod(0o644)  # safetensors writes 0600: keep installed copies readable


def read_tensors(path: Path, *, torch: bool = False) -> Tensors:
    """The tensors of a safetensors file (numpy arrays, or torch tensors with ``torch``)."""
    from safetensors import SafetensorError

    if torch:
        from safetensors.torch import load_file
    else:
        from safetensors.numpy import load_file  # type: ignore[assignment]
    require(path.parent, path.name)
    try:
        loaded = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable safetensors file ({exc})") from exc
    return Tensors(path, loaded)


class Tensors(dict[str, Any]):
    """The tensors read from one file; a missing name or a wrong shape is a ModelError."""

    def __init__(self, file: Path, tensors: Mapping[str, Any]):
        super().__init__(tensors)
        self.file = file

    def __missing__(self, name: str) -> Any:
        raise ModelError(f"{self.file}: tensor {name!r} is missing")

    def shaped(self, name: str, shape: tuple[int, ...], what: str = "the label lists") -> Any:
        """The tensor ``name``, which must have ``shape``."""
        value = self[name]
        if tuple(value.shape) != tuple(shape):
            raise ModelError(
                f"{self.file}: tensor {name!r} has shape {tuple(value.shape)}, not "
                f"{tuple(shape)}: it does not fit {what}"
            )
        return value

    def csr(self, name: str, shape: tuple[int, int], what: str = "the label lists") -> Any:
        """The CSR matrix stored as ``name.data`` / ``.indices`` / ``.indptr`` (float32)."""
        from scipy.sparse import csr_matrix

        data, indices = self[f"{name}.data"], self[f"{name}.indices"]
        indptr = self[f"{name}.indptr"]
        if (
            len(indptr) != shape[0] + 1
            or len(indices) != len(data)
            or (len(indices) and (indices.min() < 0 or indices.max() >= shape[1]))
            or indptr[-1] != len(data)
        ):
            raise ModelError(
                f"{self.file}: stored matrix {name!r} does not fit {what} (shape {shape})"
            )
        return csr_matrix((data.astype(np.float32), indices, indptr), shape=shape)

    def prefixed(self, prefix: str) -> dict[str, Any]:
        """The tensors whose names start with ``prefix``, named without it."""
        return {k[len(prefix) :]: v for k, v in self.items() if k.startswith(prefix)}


def put_csr(tensors: dict[str, np.ndarray], name: str, matrix: Any, dtype: Any) -> None:
    """Store a sparse matrix as ``name.data`` (``dtype``), ``.indices``, ``.indptr``."""
    m = matrix.tocsr()
    tensors[f"{name}.data"] = m.data.astype(dtype)
    tensors[f"{name}.indices"] = m.indices.astype(np.int32)
    tensors[f"{name}.indptr"] = m.indptr.astype(np.int64)


# ---------------------------------------------------------------------- torch modules
def module_tensors(module: Any, prefix: str) -> dict[str, Any]:
    """A torch module's state as CPU tensors named ``prefix + key``."""
    return {f"{prefix}{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def load_module(module: Any, state: Mapping[str, Any], file: Path, what: str) -> None:
    """Load ``state`` into a torch module; ModelError ``file: what (...)`` if it does not fit."""
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"{file}: {what} ({exc})") from exc


# ---------------------------------------------------------------------- a model directory
@dataclass
class Saved:
    """What every model directory holds: its config, label lists and weights."""

    path: Path
    config: dict[str, Any]
    labels: Labels
    tensors: Tensors


def write_model(
    path: Path,
    config: dict[str, Any],
    labels: Labels,
    tensors: Mapping[str, Any],
    files: Mapping[str, ExtraFile] | None = None,
) -> None:
    """Write a model directory: weights, the kind's own ``files``, labels, then the config.

    The config comes last, so a directory that has one was written to the end.
    """
    path.mkdir(parents=True, exist_ok=True)
    write_tensors(path / WEIGHTS, tensors)
    for name, content in (files or {}).items():
        if isinstance(content, str):
            (path / name).write_text(content, encoding="utf-8")
        else:
            content(path / name)
    write_json(path / LABELS, labels.to_dict())
    write_json(path / CONFIG, config)


def read_model(path: Path, *, torch: bool = False, requires: tuple[str, ...] = ()) -> Saved:
    """Read a model directory's config, labels and weights; ``requires``: the kind's files."""
    config = read_json(path / CONFIG, "model config")
    if not isinstance(config, dict):
        raise ModelError(f"{path / CONFIG}: not a vulntax model config (not a JSON object)")
    labels = Labels.from_dict(read_json(path / LABELS, "label lists"))
    require(path, WEIGHTS, *requires)
    return Saved(path, config, labels, read_tensors(path / WEIGHTS, torch=torch))


def section_params(saved: Saved, section: str, params_class: type) -> tuple[dict[str, Any], Any]:
    """A kind's section of the config and its training parameters, checked."""
    from vulntax.config import from_dict
    from vulntax.errors import ConfigError

    found = saved.config.get(section)
    if not isinstance(found, dict) or not isinstance(found.get("params"), dict):
        raise ModelError(f"{saved.path / CONFIG}: no {section!r} section")
    try:
        params: Any = from_dict(params_class, found["params"], section)
    except ConfigError as exc:
        raise ModelError(f"{saved.path / CONFIG}: {exc}") from exc
    return found, params


def params_dict(params: Any) -> dict[str, Any]:
    """A parameters dataclass as the config stores it (field order, values as they are)."""
    return {k: getattr(params, k) for k in params.__dataclass_fields__}


def temperatures(section: dict[str, Any]) -> dict[str, float]:
    """The temperatures a kind's config section stores (none: an empty dict)."""
    return {str(k): float(v) for k, v in section.get("temperatures", {}).items()}
