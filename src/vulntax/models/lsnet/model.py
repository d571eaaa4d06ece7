"""Model kind ``lsnet``: the eight CVSS base metrics from a Transformer + TextCNN network.

A CVSS-only model (``labels.cwe`` is empty and ``ModelOutput.cwe`` None): it serves
beside a CWE model inside a composite (:func:`vulntax.models.composite.compose`),
and ``vulntax train`` measures its CVSS figures alone. A saved directory holds,
besides ``config.json`` and ``labels.json``:

* ``weights.safetensors`` — the network (``net.*``) and the cluster space
  (``space.*``: idf, PCA centre and axes, centroids);
* ``tokenizer.json`` — the WordPiece tokenizer trained on the training descriptions.

The cluster space's terms and scale are in ``config.json`` (``lsnet.space``). Nothing
is pickled; a file that does not fit gives a :class:`~vulntax.errors.ModelError`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from vulntax.analysis.space import ClusterSpace
from vulntax.errors import DatasetError, ModelError
from vulntax.models.base import CONFIG, FORMAT_VERSION, Labels, ModelOutput
from vulntax.models.calibration import fit_cvss_temperatures, softmax
from vulntax.models.lsnet.config import LSNetConfig
from vulntax.models.lsnet.network import LSNet
from vulntax.models.lsnet.training import IGNORE, infer, token_ids, train_network
from vulntax.models.persistence import (
    load_module,
    module_tensors,
    params_dict,
    read_model,
    section_params,
    temperatures,
    write_model,
)

TOKENIZER = "tokenizer.json"


class LSNetModel:
    kind: ClassVar[str] = "lsnet"
    Config: ClassVar[type] = LSNetConfig

    def __init__(
        self,
        config: dict[str, Any],
        labels: Labels,
        params: LSNetConfig,
        tokenizer: Any,
        space: ClusterSpace,
        net: LSNet,
        temperatures: dict[str, float],
    ):
        self.config = config
        self.labels = labels
        self.params = params
        self.tokenizer = tokenizer
        self.space = space
        self.net = net
        self._temperatures = temperatures

    # ------------------------------------------------------------------ prediction
    def logits(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        if self.params.threads:
            torch.set_num_threads(self.params.threads)
        membership = self.space.memberships(list(texts))
        return infer(self.net, token_ids(self.tokenizer, texts), membership)

    def predict_batch(self, texts: Sequence[str]) -> ModelOutput:
        out = self.logits(texts)
        t = self._temperatures
        cvss = {m: softmax(out[m], t.get(m, 1.0)) for m in self.labels.cvss}
        return ModelOutput(cwe=None, cvss=cvss)

    def temperatures(self) -> dict[str, float]:
        return dict(self._temperatures)

    def calibrate(self, examples: Any) -> None:
        """Fit one temperature per CVSS metric on held-out ``examples``."""
        out = self.logits(examples.texts)
        self._temperatures = fit_cvss_temperatures(out, self.labels.cvss, examples.cvss)

    # ------------------------------------------------------------------ training
    @classmethod
    def fit(
        cls,
        meta: dict[str, Any],
        params: LSNetConfig,
        train: Any,
        calibration: Any,
        cwe_classes: dict[str, str | None],
        catalog: Any,
        log: Any = print,
        temperatures: dict[str, float] | None = None,
    ) -> LSNetModel:
        from vulntax.models.multitask.encoders import train_tokenizer
        from vulntax.taxonomy.cvss import BASE_METRICS, metric_values

        started = time.perf_counter()
        if params.threads:
            torch.set_num_threads(params.threads)
        seed = int(meta.get("training", {}).get("seed", 0))
        torch.manual_seed(seed)
        labels = Labels(cwe=[], cvss={m: list(metric_values(m)) for m in BASE_METRICS})
        targets = np.full((len(train), len(BASE_METRICS)), IGNORE, dtype=np.int64)
        for j, metric in enumerate(BASE_METRICS):
            index = {v: i for i, v in enumerate(labels.cvss[metric])}
            for row, value in enumerate(train.cvss[metric]):
                if value in index:
                    targets[row, j] = index[value]
        rows = np.flatnonzero((targets != IGNORE).any(axis=1))
        if len(rows) < 2 * params.batch_size:
            raise DatasetError(
                f"lsnet needs CVSS-labelled training examples: {len(rows)} found "
                f"(at least {2 * params.batch_size} for batches of {params.batch_size})"
            )
        texts = [train.texts[i] for i in rows]
        targets = targets[rows]
        log(f"lsnet: {len(texts):,} CVSS-labelled descriptions")

        tokenizer = train_tokenizer(texts, params.vocab)
        tokenizer.enable_truncation(params.max_length)
        tokenizer.no_padding()
        ids = token_ids(tokenizer, texts)
        rng = np.random.default_rng(seed)
        sample = rng.choice(len(texts), min(params.cluster_sample, len(texts)), replace=False)
        space = ClusterSpace.fit(
            [texts[i] for i in sample],
            params.clusters,
            params.cluster_components,
            params.cluster_features,
            seed=seed,
        )
        membership = space.memberships(texts)
        log(
            f"lsnet: tokenizer ({tokenizer.get_vocab_size():,} tokens) and cluster space "
            f"({space.clusters} clusters, {space.components} PCA components) ready "
            f"({time.perf_counter() - started:.0f} s)"
        )
        net = new_network(params, tokenizer.get_vocab_size(), space.clusters, labels)
        history = train_network(
            net,
            ids,
            membership,
            targets,
            list(BASE_METRICS),
            epochs=params.epochs,
            batch_size=params.batch_size,
            lr=params.lr,
            label_smoothing=params.label_smoothing,
            max_minutes=params.max_minutes,
            seed=seed,
            log=log,
            log_every=params.log_every,
        )
        config = {"kind": cls.kind, "format_version": FORMAT_VERSION, **meta}
        config["lsnet_history"] = history
        model = cls(config, labels, params, tokenizer, space, net, temperatures or {})
        if temperatures is None and len(calibration):
            model.calibrate(calibration)
        log(f"lsnet: done in {time.perf_counter() - started:.0f} s")
        return model

    # ------------------------------------------------------------------ persistence
    def save(self, path: Path) -> None:
        tensors = module_tensors(self.net, "net.")
        tensors.update({k: torch.from_numpy(np.ascontiguousarray(v))
                        for k, v in self.space.to_tensors().items()})  # fmt: skip
        config = dict(self.config)
        config["lsnet"] = {
            "params": params_dict(self.params),
            "temperatures": self._temperatures,
            "space": self.space.to_json(),
        }
        files = {TOKENIZER: self.tokenizer.to_str()}
        write_model(path, config, self.labels, tensors, files)

    @classmethod
    def load(cls, path: Path) -> LSNetModel:
        from vulntax.models.multitask.encoders import tokenizer_from_json

        saved = read_model(path, torch=True, requires=(TOKENIZER,))
        section, params = section_params(saved, "lsnet", LSNetConfig)
        tokenizer = tokenizer_from_json((path / TOKENIZER).read_text(encoding="utf-8"))
        tokenizer.enable_truncation(params.max_length)
        tokenizer.no_padding()
        space_info = section.get("space")
        if not isinstance(space_info, dict):
            raise ModelError(f"{path / CONFIG}: no cluster space in the 'lsnet' section")
        tensors = saved.tensors
        space_arrays = {k: v.numpy() for k, v in tensors.items() if k.startswith("space.")}
        try:
            space = ClusterSpace.from_saved(space_info, space_arrays)
        except ModelError as exc:
            raise ModelError(f"{path}: {exc}") from exc
        net = new_network(params, tokenizer.get_vocab_size(), space.clusters, saved.labels)
        load_module(net, tensors.prefixed("net."), tensors.file, "the weights do not fit")
        net.eval()
        temps = temperatures(section)
        return cls(saved.config, saved.labels, params, tokenizer, space, net, temps)


def new_network(params: LSNetConfig, vocab: int, clusters: int, labels: Labels) -> LSNet:
    return LSNet(
        vocab=vocab,
        dim=params.dim,
        layers=params.layers,
        heads=params.heads,
        max_length=params.max_length,
        kernel_sizes=params.kernel_sizes,
        filters=params.filters,
        hidden=params.hidden,
        dropout=params.dropout,
        clusters=clusters,
        cluster_bias=params.cluster_bias,
        classes={m: len(v) for m, v in labels.cvss.items()},
    )
