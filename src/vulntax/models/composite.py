"""Model kind ``composite``: each head taken from one of several part models.

A composite directory holds its parts in sub-directories and a config naming,
for every head, the part that predicts it::

    {"kind": "composite", "format_version": 1, "name": "...", "version": "...",
     "parts": {"linear": "parts/linear", "lsnet": "parts/lsnet"},
     "heads": {"cwe": "linear", "cvss": "lsnet", "capec": "linear", "attack": "linear"}}

This is how a CVSS-only model (LSNet) serves beside the linear CWE model, and
how ensembles are shipped. Part paths are relative to the composite
directory and may not leave it. :func:`compose` builds such a directory from
existing model directories (copied in, so the composite is self-contained).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vulntax.errors import ConfigError, ModelError
from vulntax.models.base import (
    CONFIG,
    FORMAT_VERSION,
    HEADS,
    Labels,
    ModelOutput,
    read_json,
    write_json,
)

PARTS_DIR = "parts"


class CompositeModel:
    kind: ClassVar[str] = "composite"
    Config: ClassVar[type] = dict  # composites are assembled with compose(), not trained

    def __init__(self, config: dict[str, Any], parts: dict[str, Any]):
        self.config = config
        self.parts = parts
        heads: dict[str, str] = config["heads"]
        self.heads = heads
        by = {h: parts[p].labels for h, p in heads.items()}
        self.labels = Labels(
            cwe=by["cwe"].cwe,
            cvss=by["cvss"].cvss,
            capec=by["capec"].capec,
            attack=by["attack"].attack,
        )

    def predict_batch(self, texts: Sequence[str]) -> ModelOutput:
        outputs = {
            name: self.parts[name].predict_batch(texts)
            for name in dict.fromkeys(self.heads.values())
        }
        cwe_out = outputs[self.heads["cwe"]]
        cvss_out = outputs[self.heads["cvss"]]

        def explain(head: str, labels: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
            return (cwe_out if head == "cwe" else cvss_out).explain(head, labels, k)

        return ModelOutput(
            cwe=_need(cwe_out.cwe, "cwe", self.heads["cwe"]),
            cvss=cvss_out.cvss,
            capec=outputs[self.heads["capec"]].capec,
            attack=outputs[self.heads["attack"]].attack,
            explain=explain,
        )

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        parts = {}
        for name, model in self.parts.items():
            relative = f"{PARTS_DIR}/{name}"
            model.save(path / relative)
            parts[name] = relative
        write_json(path / CONFIG, {**self.config, "parts": parts})

    @classmethod
    def load(cls, path: Path) -> CompositeModel:
        from vulntax.models import load_model

        config = read_json(path / CONFIG, "model config")
        parts_config = config.get("parts")
        heads = config.get("heads")
        if not isinstance(parts_config, dict) or not isinstance(heads, dict):
            raise ModelError(f"{path / CONFIG}: a composite needs 'parts' and 'heads' tables")
        _check_heads(heads, parts_config, path)
        root = path.resolve()
        parts = {}
        for name, relative in parts_config.items():
            part_dir = (path / str(relative)).resolve()
            if root not in part_dir.parents:
                raise ModelError(
                    f"{path / CONFIG}: part {name!r} points outside the model directory"
                )
            parts[name] = load_model(part_dir)
        return cls(config, parts)


def compose(
    out: Path, parts: dict[str, Path], heads: dict[str, str], name: str, version: str
) -> Path:
    """Write a composite model directory to ``out`` from existing model directories."""
    _check_heads(heads, parts, out)
    out.mkdir(parents=True, exist_ok=True)
    stored = {}
    for part, source in parts.items():
        target = out / PARTS_DIR / part
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)
        stored[part] = f"{PARTS_DIR}/{part}"
    config = {
        "kind": CompositeModel.kind,
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": version,
        "parts": stored,
        "heads": heads,
    }
    write_json(out / CONFIG, config)
    CompositeModel.load(out)  # fail now, not at prediction time, if a part is unusable
    return out


def _check_heads(heads: dict[str, str], parts: dict[str, Any], where: Path) -> None:
    missing = [h for h in HEADS if h not in heads]
    unknown_heads = [h for h in heads if h not in HEADS]
    unknown_parts = sorted({p for p in heads.values() if p not in parts})
    if missing or unknown_heads or unknown_parts:
        raise ConfigError(
            f"{where}: composite heads must map each of {', '.join(HEADS)} to a part "
            f"(missing {missing}, unknown heads {unknown_heads}, unknown parts {unknown_parts})"
        )


def _need(value: Any, head: str, part: str) -> Any:
    if value is None:
        raise ModelError(f"composite: part {part!r} does not predict the {head} head")
    return value
