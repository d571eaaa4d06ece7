"""int8 storage (and optional int8 inference) of a fine-tuned ``multitask`` model.

A fine-tuned MiniLM model saves its 22.7 M encoder weights in fp32 (≈92 MB).
:func:`quantize_model` writes a copy of the model directory in which

* every 2-D weight of the encoder's ``nn.Linear`` layers and the word embeddings is
  int8 with one float32 scale per output row (symmetric: ``w ≈ q · scale``,
  ``q = round(w / scale)``, ``scale = max|row| / 127``); the scale of ``KEY`` is
  stored as ``KEY.__scale__``;
* the position and token-type embeddings are float16;
* LayerNorms, biases and the heads (``net.*``) stay float32 (they are small, and the
  heads give the calibrated probabilities);
* everything is safetensors (nothing is pickled), and every other file of the
  directory (json files, a trimmed ``tokenizer.json``, ``README.md`` ...) is copied;
* ``config.json`` records ``"quantized": "int8-rowwise"`` (see :data:`SCHEME`), and
  whether inference should run the encoder's Linear layers in int8 (``int8_compute``).

Loading (``MultitaskModel.load``) calls :func:`maybe_dequantize` on the tensors read
from ``weights.safetensors`` — a no-op for an ordinary model — and, once the pipeline
is built, :func:`maybe_quantize_modules`, which swaps the encoder's Linear layers
for ``torch.ao`` dynamically quantised ones when the config asks for it.
``bench/finetune/quantize.py`` measures size, agreement with fp32, throughput and
cold start.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from vulntax.errors import ModelError

SCHEME = "int8-rowwise"
SCALE = ".__scale__"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
#: the encoder's 2-D weights stored in float16 rather than int8 (small; not matmul inputs)
_HALF = ("position_embeddings.weight", "token_type_embeddings.weight")


# ---------------------------------------------------------------------- writing
def int8_keys(tensors: dict[str, torch.Tensor]) -> list[str]:
    """The tensors stored as int8: the encoder's 2-D weights but the small embeddings."""
    return sorted(
        k
        for k, v in tensors.items()
        if k.startswith("encoder.")
        and k.endswith(".weight")
        and v.ndim == 2
        and not k.endswith(_HALF)
    )


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8: ``(q int8 (R, C), scale float32 (R,))``, ``weight ≈ q·scale``."""
    w = weight.detach().float()
    scale = w.abs().amax(dim=1) / 127.0
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero row stays 0
    q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q.contiguous(), scale.contiguous()


def quantize_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The int8-rowwise form of a multitask model's tensors (see the module docstring)."""
    out: dict[str, torch.Tensor] = {}
    quantized = set(int8_keys(tensors))
    for key, value in tensors.items():
        if key in quantized:
            out[key], out[key + SCALE] = quantize_rows(value)
        elif key.startswith("encoder.") and key.endswith(_HALF):
            out[key] = value.detach().to(torch.float16).contiguous()
        else:
            out[key] = value.detach().contiguous()
    return out


def quantize_model(
    src_dir: str | Path, out_dir: str | Path, int8_compute: bool = False
) -> dict[str, Any]:
    """Write the int8 copy of the fine-tuned multitask model ``src_dir`` to ``out_dir``.

    ``int8_compute``: the loaded model runs its encoder's Linear layers in int8
    (``torch.ao`` dynamic quantisation); otherwise it dequantises to float32 and runs
    exactly like the original. Returns sizes in bytes and the number of int8 tensors.
    """
    from safetensors.torch import save_file

    src, out = Path(src_dir), Path(out_dir)
    config = _read_config(src)
    if config.get("kind") != "multitask":
        raise ModelError(
            f"{src}: only a multitask model can be quantized (kind {config.get('kind')!r})"
        )
    if config.get("quantized"):
        raise ModelError(f"{src}: the model is quantized already ({config['quantized']})")
    info = config.get("multitask", {}).get("encoder", {})
    if not info.get("trained"):
        raise ModelError(
            f"{src}: the encoder was not fine-tuned (its weights are not in the model): "
            "there is nothing to quantize"
        )
    if out.resolve() == src.resolve():
        raise ModelError(f"{out}: write the quantized model to another directory")
    tensors = read_tensors(src / WEIGHTS_FILE)
    packed = quantize_tensors(tensors)
    out.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.name in (WEIGHTS_FILE, CONFIG_FILE):
            continue
        if item.is_dir():
            shutil.copytree(item, out / item.name, dirs_exist_ok=True)
        else:
            shutil.copy2(item, out / item.name)
    save_file(packed, str(out / WEIGHTS_FILE), metadata={"quantized": SCHEME})
    config["quantized"] = SCHEME
    config["int8_compute"] = bool(int8_compute)
    from vulntax.models.persistence import write_json

    write_json(out / CONFIG_FILE, config)
    return {
        "fp32_bytes": (src / WEIGHTS_FILE).stat().st_size,
        "int8_bytes": (out / WEIGHTS_FILE).stat().st_size,
        "int8_tensors": len(int8_keys(tensors)),
        "dir_bytes": sum(f.stat().st_size for f in out.rglob("*") if f.is_file()),
    }


# ---------------------------------------------------------------------- loading
def maybe_dequantize(
    tensors: dict[str, torch.Tensor], config: dict[str, Any], where: str | Path = WEIGHTS_FILE
) -> dict[str, torch.Tensor]:
    """float32 tensors of a model saved by :func:`quantize_model`; others unchanged."""
    scheme = config.get("quantized")
    if not scheme:
        return tensors
    if scheme != SCHEME:
        raise ModelError(
            f"{where}: quantization {scheme!r} is not supported by this vulntax "
            f"(it reads {SCHEME!r})"
        )
    out: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        if key.endswith(SCALE):
            if key[: -len(SCALE)] not in tensors:
                raise ModelError(f"{where}: corrupt int8 model (a scale without weights: {key})")
            continue
        if value.dtype == torch.int8:
            scale = tensors.get(key + SCALE)
            if scale is None or value.ndim != 2 or scale.shape != (value.shape[0],):
                raise ModelError(
                    f"{where}: corrupt int8 model ({key}: its per-row scales are missing or "
                    "do not fit)"
                )
            if not bool(torch.isfinite(scale).all()):
                raise ModelError(f"{where}: corrupt int8 model ({key}: non-finite scales)")
            out[key] = value.float() * scale.float()[:, None]
        elif value.is_floating_point():
            out[key] = value.float()
        else:
            out[key] = value
    return out


def maybe_quantize_modules(module: torch.nn.Module | None, config: dict[str, Any]) -> None:
    """Run ``module``'s Linear layers in int8 (in place) if the model config asks for it."""
    if module is None or not config.get("quantized") or not config.get("int8_compute"):
        return
    quantize_linear_layers(module)


def quantize_linear_layers(module: torch.nn.Module) -> None:
    """``torch.ao`` dynamic int8 quantisation of every ``nn.Linear`` in ``module``, in place."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch.ao's eager quantisation announces its deprecation
        warnings.simplefilter("ignore")
        quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


def read_tensors(file: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not file.is_file():
        raise ModelError(f"{file.parent}: not a complete model directory ({file.name} is missing)")
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{file}: not a readable safetensors file ({exc})") from exc


def _read_config(folder: Path) -> dict[str, Any]:
    from vulntax.models.persistence import read_json

    config = read_json(folder / CONFIG_FILE, "model config")
    if not isinstance(config, dict):
        raise ModelError(f"{folder / CONFIG_FILE}: not a vulntax model config")
    return config
