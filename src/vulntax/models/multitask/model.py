"""Model kind ``multitask``: one shared encoder, one head per taxonomy, trained together.

See ``docs/multitask.md`` for the design and the measured effect of each part.
A saved model directory holds, besides the common files (``config.json``,
``labels.json``, ``weights.safetensors``):

* ``hierarchy.json`` — the CWE classes' View-1000 levels (decoding needs no catalog);
* ``tokenizer.json`` — the from-scratch encoder's tokenizer (MiniLM's comes from
  its package, as do its weights unless they were fine-tuned).

The weights file holds the heads (``net.*``) and, for a trainable encoder, the
encoder (``encoder.*``). Nothing is pickled.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from vulntax.errors import ModelError
from vulntax.models.base import (
    CONFIG,
    LABELS,
    WEIGHTS,
    Labels,
    ModelOutput,
    read_json,
    write_json,
)
from vulntax.models.calibration import fit_cvss_temperatures, fit_temperature, softmax
from vulntax.models.multitask import encoders as enc
from vulntax.models.multitask import quantize
from vulntax.models.multitask.cache import cache_root, cached_embeddings
from vulntax.models.multitask.config import MultitaskConfig
from vulntax.models.multitask.hierarchy import Hierarchy
from vulntax.models.multitask.training import (
    Pipeline,
    forward_all,
    new_pipeline,
    numpy_class_scores,
)

HIERARCHY = "hierarchy.json"
TOKENIZER = "tokenizer.json"


class MultitaskModel:
    kind: ClassVar[str] = "multitask"
    Config: ClassVar[type] = MultitaskConfig

    def __init__(
        self,
        config: dict[str, Any],
        labels: Labels,
        params: MultitaskConfig,
        hierarchy: Hierarchy,
        encoder: enc.TextEncoder,
        pipeline: Pipeline,
        temperatures: dict[str, float],
    ):
        self.config = config
        self.labels = labels
        self.params = params
        self.hierarchy = hierarchy
        self.encoder = encoder
        self.pipeline = pipeline  # pipeline.encoder is the encoder when it is trainable
        self._temperatures = temperatures
        self.history: dict[str, list[float]] = {}

    # ------------------------------------------------------------------ prediction
    def features(self, texts: Sequence[str]) -> np.ndarray | Sequence[str]:
        """What the pipeline reads: cached/frozen embeddings, or the texts themselves."""
        if self.pipeline.encoder is not None:
            return list(texts)
        return cached_embeddings(self.encoder, texts, cache_root(self.params.embedding_cache))

    def logits(self, texts: Sequence[str]) -> dict[str, Any]:
        """Raw head outputs (numpy) for ``texts``: flat and per-level CWE, CVSS, CAPEC, ATT&CK."""
        if self.params.threads:
            torch.set_num_threads(self.params.threads)
        return forward_all(self.pipeline, self.features(texts), "cpu")

    def predict_batch(self, texts: Sequence[str]) -> ModelOutput:
        return self.output_from_logits(self.logits(texts))

    def output_from_logits(self, out: dict[str, Any]) -> ModelOutput:
        t = self._temperatures
        scores = numpy_class_scores(
            out["cwe"], out["levels"], self.hierarchy, self.params.cwe_output
        )
        cwe = softmax(scores.astype(np.float32), t.get("cwe", 1.0))
        cvss = {m: softmax(out["cvss"][m], t.get(m, 1.0)) for m in self.labels.cvss}
        capec = _sigmoid(out["capec"][:, : len(self.labels.capec)])
        attack = _sigmoid(out["attack"][:, : len(self.labels.attack)])
        return ModelOutput(cwe=cwe, cvss=cvss, capec=capec, attack=attack)

    def temperatures(self) -> dict[str, float]:
        return dict(self._temperatures)

    @classmethod
    def fit(
        cls,
        meta: dict[str, Any],
        params: MultitaskConfig,
        train_examples: Any,
        calibration_examples: Any,
        cwe_classes: dict[str, str | None],
        catalog: Any,
        log: Any = print,
        temperatures: dict[str, float] | None = None,
    ) -> MultitaskModel:
        from vulntax.models.multitask.fit import fit

        return fit(
            cls,
            meta,
            params,
            train_examples,
            calibration_examples,
            cwe_classes,
            catalog,
            log,
            temperatures,
        )

    def calibrate(self, examples: Any, cwe_classes: dict[str, str | None]) -> None:
        """Fit the temperature of the CWE head and of every CVSS metric on ``examples``."""
        from vulntax.models.multitask.targets import first_class

        out = self.logits(examples.texts)
        index = {c: i for i, c in enumerate(self.labels.cwe)}
        rows, ys = [], []
        for row, gold in enumerate(examples.cwe_gold):
            c = first_class(gold, cwe_classes)
            if c is not None and c in index:
                rows.append(row)
                ys.append(index[c])
        scores = numpy_class_scores(
            out["cwe"], out["levels"], self.hierarchy, self.params.cwe_output
        )
        temps = {"cwe": fit_temperature(scores[rows], np.asarray(ys, dtype=np.int64))}
        temps.update(fit_cvss_temperatures(out["cvss"], self.labels.cvss, examples.cvss))
        self._temperatures = temps

    # ------------------------------------------------------------------ persistence
    def save(self, path: Path) -> None:
        from vulntax.models.multitask.training import distributed

        dist = distributed()
        if dist.main:
            self._write(path)
        if dist.world > 1:  # under torchrun the first process writes; the others wait for it
            import torch.distributed

            torch.distributed.barrier()

    def _write(self, path: Path) -> None:
        from safetensors.torch import save_file

        path.mkdir(parents=True, exist_ok=True)
        tensors = {
            f"net.{k}": v.detach().cpu().contiguous()
            for k, v in self.pipeline.net.state_dict().items()
        }
        if self.pipeline.encoder is not None:
            tensors.update(
                {
                    f"encoder.{k}": v.detach().cpu().contiguous()
                    for k, v in self.encoder.stack.state_dict().items()
                }
            )
        save_file(tensors, str(path / WEIGHTS))
        if self.encoder.name == "scratch":
            (path / TOKENIZER).write_text(self.encoder.tokenizer.to_str(), encoding="utf-8")
        write_json(path / HIERARCHY, self.hierarchy.to_dict())
        write_json(path / LABELS, self.labels.to_dict())
        config = dict(self.config)
        config["multitask"] = {
            "temperatures": self._temperatures,
            "encoder": {"name": self.encoder.name, "dim": self.encoder.dim,
                        "fingerprint": self.encoder.fingerprint,
                        "trained": self.pipeline.encoder is not None},
            "params": {k: getattr(self.params, k) for k in self.params.__dataclass_fields__},
        }  # fmt: skip
        write_json(path / CONFIG, config)

    @classmethod
    def load(cls, path: Path) -> MultitaskModel:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from vulntax.config import from_dict
        from vulntax.errors import ConfigError

        config = read_json(path / CONFIG, "model config")
        labels = Labels.from_dict(read_json(path / LABELS, "label lists"))
        hierarchy = Hierarchy.from_dict(read_json(path / HIERARCHY, "CWE hierarchy"))
        saved = config.get("multitask")
        if not isinstance(saved, dict) or "params" not in saved:
            raise ModelError(f"{path / CONFIG}: no 'multitask' section")
        try:
            params = from_dict(MultitaskConfig, saved["params"], "multitask")
        except ConfigError as exc:
            raise ModelError(f"{path / CONFIG}: {exc}") from exc
        if hierarchy.classes != labels.cwe:
            raise ModelError(f"{path}: {HIERARCHY} and {LABELS} list different CWE classes")
        weights_file = path / WEIGHTS
        if not weights_file.is_file():
            raise ModelError(f"{path}: not a complete model directory ({WEIGHTS} is missing)")
        try:
            tensors = load_file(str(weights_file))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelError(f"{weights_file}: not a readable safetensors file ({exc})") from exc
        tensors = quantize.maybe_dequantize(tensors, config, weights_file)  # int8 (quantize.py)
        info = saved.get("encoder", {})
        trained = bool(info.get("trained"))
        encoder = _load_encoder(path, params, info, tensors)
        sizes = {
            "classes": len(labels.cwe),
            "levels": hierarchy.sizes(),
            "cvss": {m: len(v) for m, v in labels.cvss.items()},
            "capec": len(labels.capec),
            "attack": len(labels.attack),
        }
        pipeline = new_pipeline(encoder.dim, sizes, params, encoder if trained else None, 0, "cpu")
        net_state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
        try:
            pipeline.net.load_state_dict(net_state)
        except RuntimeError as exc:
            raise ModelError(f"{weights_file}: the weights do not fit the labels ({exc})") from exc
        pipeline.eval()
        if trained and pipeline.encoder is not None:
            encoder = pipeline.encoder
        quantize.maybe_quantize_modules(encoder.stack if trained else None, config)  # int8
        temps = {str(k): float(v) for k, v in saved.get("temperatures", {}).items()}
        return cls(config, labels, params, hierarchy, encoder, pipeline, temps)


def _load_encoder(
    path: Path, params: MultitaskConfig, info: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> enc.TextEncoder:
    if params.encoder == "minilm":
        encoder = enc.minilm(params.max_length)
        if not info.get("trained") and info.get("fingerprint") != encoder.fingerprint:
            raise ModelError(
                f"{path}: the model was trained on MiniLM weights {info.get('fingerprint')!r} "
                f"but the installed {enc.MINILM_PIP} has {encoder.fingerprint!r}"
            )
    else:
        file = path / TOKENIZER
        if not file.is_file():
            raise ModelError(f"{path}: not a complete model directory ({TOKENIZER} is missing)")
        tokenizer = enc.tokenizer_from_json(file.read_text(encoding="utf-8"))
        encoder = enc.scratch(
            tokenizer,
            params.scratch_dim,
            params.scratch_layers,
            params.scratch_heads,
            params.max_length,
        )
    if info.get("trained"):
        state = {k[8:]: v for k, v in tensors.items() if k.startswith("encoder.")}
        try:
            encoder.stack.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelError(f"{path / WEIGHTS}: encoder weights do not fit ({exc})") from exc
    encoder.eval()
    return encoder


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))).astype(np.float32)


def _elapsed(started: float) -> str:
    return f"{time.perf_counter() - started:.0f} s"
