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
from vulntax.models.base import LABELS, Labels, ModelOutput
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
from vulntax.models.persistence import (
    Tensors,
    json_text,
    load_module,
    module_tensors,
    params_dict,
    read_json,
    read_model,
    require,
    section_params,
    temperatures,
    write_model,
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
        device = next(self.pipeline.parameters()).device
        return forward_all(self.pipeline, self.features(texts), str(device))

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
        tensors = module_tensors(self.pipeline.net, "net.")
        if self.pipeline.encoder is not None:
            tensors.update(module_tensors(self.encoder.stack, "encoder."))
        files: dict[str, str] = {}
        if self.encoder.name == "scratch" or self.pipeline.encoder is not None:
            # a fine-tuned MiniLM may have a trimmed vocabulary (.vocab): its tokenizer goes too
            files[TOKENIZER] = self.encoder.tokenizer.to_str()
        files[HIERARCHY] = json_text(self.hierarchy.to_dict())
        config = dict(self.config)
        config["multitask"] = {
            "temperatures": self._temperatures,
            "encoder": {"name": self.encoder.name, "dim": self.encoder.dim,
                        "fingerprint": self.encoder.fingerprint,
                        "trained": self.pipeline.encoder is not None},
            "params": params_dict(self.params),
        }  # fmt: skip
        write_model(path, config, self.labels, tensors, files)

    @classmethod
    def load(cls, path: Path) -> MultitaskModel:
        saved = read_model(path, torch=True, requires=(HIERARCHY,))
        labels = saved.labels
        hierarchy = Hierarchy.from_dict(read_json(path / HIERARCHY, "CWE hierarchy"))
        section, params = section_params(saved, "multitask", MultitaskConfig)
        if hierarchy.classes != labels.cwe:
            raise ModelError(f"{path}: {HIERARCHY} and {LABELS} list different CWE classes")
        weights = Tensors(  # an int8 model's weights come back as float32 (quantize.py)
            saved.tensors.file,
            quantize.maybe_dequantize(dict(saved.tensors), saved.config, saved.tensors.file),
        )
        info = section.get("encoder", {})
        trained = bool(info.get("trained"))
        encoder = _load_encoder(path, params, info, weights)
        sizes = {
            "classes": len(labels.cwe),
            "levels": hierarchy.sizes(),
            "cvss": {m: len(v) for m, v in labels.cvss.items()},
            "capec": len(labels.capec),
            "attack": len(labels.attack),
        }
        pipeline = new_pipeline(encoder.dim, sizes, params, encoder if trained else None, 0, "cpu")
        what = "the weights do not fit the labels"
        load_module(pipeline.net, weights.prefixed("net."), weights.file, what)
        pipeline.eval()
        if trained and pipeline.encoder is not None:
            encoder = pipeline.encoder
        quantize.maybe_quantize_modules(encoder.stack if trained else None, saved.config)
        temps = temperatures(section)
        return cls(saved.config, labels, params, hierarchy, encoder, pipeline, temps)


def _load_encoder(
    path: Path, params: MultitaskConfig, info: dict[str, Any], tensors: Tensors
) -> enc.TextEncoder:
    if params.encoder == "minilm" and info.get("trained") and (path / TOKENIZER).is_file():
        # fine-tuned: its own weights and (possibly trimmed) tokenizer; the package gives
        # only the shape
        state = tensors.prefixed("encoder.")
        tokenizer = enc.tokenizer_from_json((path / TOKENIZER).read_text(encoding="utf-8"))
        encoder = enc.bert_encoder(
            "minilm", tokenizer, enc.minilm_spec(), state, params.max_length, str(tensors.file)
        )
        encoder.fingerprint = str(info.get("fingerprint", "minilm-fine-tuned"))
        encoder.eval()
        return encoder
    if params.encoder == "minilm":
        encoder = enc.minilm(params.max_length)
        if not info.get("trained") and info.get("fingerprint") != encoder.fingerprint:
            raise ModelError(
                f"{path}: the model was trained on MiniLM weights {info.get('fingerprint')!r} "
                f"but the installed {enc.MINILM_PIP} has {encoder.fingerprint!r}"
            )
    else:
        require(path, TOKENIZER)
        tokenizer = enc.tokenizer_from_json((path / TOKENIZER).read_text(encoding="utf-8"))
        encoder = enc.scratch(
            tokenizer,
            params.scratch_dim,
            params.scratch_layers,
            params.scratch_heads,
            params.max_length,
        )
    if info.get("trained"):
        state = tensors.prefixed("encoder.")
        load_module(encoder.stack, state, tensors.file, "encoder weights do not fit")
    encoder.eval()
    return encoder


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))).astype(np.float32)


def _elapsed(started: float) -> str:
    return f"{time.perf_counter() - started:.0f} s"
