"""Model kind ``composite``: each head taken from one of several part models.

A composite directory holds its parts in sub-directories and a config naming,
for every head, the part that predicts it::

    {"kind": "composite", "format_version": 1, "name": "...", "version": "...",
     "parts": {"linear": "parts/linear", "lsnet": "parts/lsnet"},
     "heads": {"cwe": "linear", "cvss": "lsnet", "capec": "linear", "attack": "linear"}}

A head may instead name several parts with weights, e.g.
``"cwe": {"linear": 0.6, "multitask": 0.4}``: its probabilities are then the
weighted average of the parts' (an ensemble). Label lists are aligned by id:
a CWE class one part lacks has probability 0 in that part. Evidence comes from
the part with the largest weight.

This is how a CVSS-only model (LSNet) serves beside the linear CWE model, and
how ensembles are shipped. Part paths are relative to the composite
directory and may not leave it. :func:`compose` builds such a directory from
existing model directories (copied in, so the composite is self-contained).

A part may instead be **a model shipped with vulntax**, referenced by name and not
copied: ``"linear": {"shipped": "default", "config_sha256": "..."}``. This is how the
shipped ``accurate`` model uses the shipped default model without a second copy of it.
The hash is that of the shipped model's ``config.json`` when the composite was made;
another installed model (a release that changed it) is a one-line ModelError, since
the composite's weights were chosen for the one it was made with.

**Trust checks** (:mod:`vulntax.trust`) need tf-idf columns: a composite has the
``features`` of its first part that has them, and passes that part's columns on.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vulntax.errors import ConfigError, ModelError
from vulntax.models.base import CONFIG, FORMAT_VERSION, HEADS, Labels, ModelOutput
from vulntax.models.persistence import read_json, write_json

PARTS_DIR = "parts"


class CompositeModel:
    kind: ClassVar[str] = "composite"
    Config: ClassVar[type] = dict  # composites are assembled with compose(), not trained

    def __init__(self, config: dict[str, Any], parts: dict[str, Any]):
        self.config = config
        self.parts = parts
        # head -> {part: weight}; a plain part name means weight 1
        self.weights = {h: _weights(v) for h, v in config["heads"].items()}
        self.labels = Labels(
            cwe=self._union("cwe", lambda lab: lab.cwe),
            cvss=parts[self._lead("cvss")].labels.cvss,
            capec=self._union("capec", lambda lab: lab.capec),
            attack=self._union("attack", lambda lab: lab.attack),
        )
        for part in self.weights["cvss"]:
            if parts[part].labels.cvss != self.labels.cvss:
                raise ModelError(f"composite: part {part!r} orders the CVSS values differently")
        # the tf-idf columns for the trust checks: the first part (CWE lead first) with them
        order = [self._lead("cwe"), *parts]
        self._features_part = next(
            (p for p in order if getattr(parts[p], "features", None) is not None), None
        )
        self.features = self._features_part and parts[self._features_part].features

    def _lead(self, head: str) -> str:
        """The part with the largest weight for ``head`` (its evidence is shown)."""
        weights = self.weights[head]
        return max(weights, key=lambda p: weights[p])

    def _union(self, head: str, get: Any) -> list[str]:
        seen: dict[str, None] = {}
        for part in sorted(self.weights[head], key=lambda p: -self.weights[head][p]):
            seen.update(dict.fromkeys(get(self.parts[part].labels)))
        return list(seen)

    def predict_batch(self, texts: Sequence[str]) -> ModelOutput:
        needed = dict.fromkeys(p for w in self.weights.values() for p in w)
        if self._features_part is not None:
            needed[self._features_part] = None
        outputs = {name: self.parts[name].predict_batch(texts) for name in needed}
        cwe_lead, cvss_lead = self._lead("cwe"), self._lead("cvss")
        cwe_index = {c: i for i, c in enumerate(self.labels.cwe)}
        # composite CWE column -> the lead part's column
        back = {cwe_index[c]: j for j, c in enumerate(self.parts[cwe_lead].labels.cwe)}

        def explain(head: str, labels: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
            if head != "cwe":
                return outputs[cvss_lead].explain(head, labels, k)
            mapped = np.array([back.get(int(c), -1) for c in labels], dtype=np.int64)
            found = outputs[cwe_lead].explain("cwe", np.maximum(mapped, 0), k)
            return [terms if m >= 0 else [] for terms, m in zip(found, mapped, strict=True)]

        cvss = {}
        for metric in self.labels.cvss:
            parts = self.weights["cvss"].items()
            cvss[metric] = sum(w * _need(outputs[p].cvss.get(metric), "cvss", p) for p, w in parts)
        return ModelOutput(
            cwe=self._average("cwe", outputs),
            cvss=cvss,
            capec=self._average("capec", outputs),
            attack=self._average("attack", outputs),
            explain=explain,
            features=self._features_part and outputs[self._features_part].features,
        )

    def _average(self, head: str, outputs: dict[str, Any]) -> np.ndarray | None:
        labels: list[str] = getattr(self.labels, head)
        index = {c: i for i, c in enumerate(labels)}
        total: np.ndarray | None = None
        for part, weight in self.weights[head].items():
            probs = getattr(outputs[part], head)
            if probs is None:
                if head == "cwe":
                    _need(None, head, part)
                continue
            part_labels = getattr(self.parts[part].labels, head)
            columns = np.array([index[c] for c in part_labels], dtype=np.int64)
            if total is None:
                total = np.zeros((probs.shape[0], len(labels)), dtype=np.float32)
            total[:, columns] += weight * probs
        return total

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        parts: dict[str, Any] = {}
        for name, model in self.parts.items():
            stored = self.config["parts"].get(name)
            if isinstance(stored, dict):  # a shipped model, referenced: not copied
                parts[name] = stored
                continue
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
        for name, where in parts_config.items():
            if isinstance(where, dict):
                parts[name] = load_model(_shipped_part(path, name, where))
                continue
            part_dir = (path / str(where)).resolve()
            if root not in part_dir.parents:
                raise ModelError(
                    f"{path / CONFIG}: part {name!r} points outside the model directory"
                )
            parts[name] = load_model(part_dir)
        return cls(config, parts)


def compose(
    out: Path,
    parts: Mapping[str, Path | str],
    heads: dict[str, str | dict[str, float]],
    name: str,
    version: str,
) -> Path:
    """Write a composite model directory to ``out`` from existing model directories.

    A part given as a shipped model's name (a ``str`` such as ``"default"``; see
    :mod:`vulntax.models.named`) is referenced, not copied; any other part is copied in.
    """
    from vulntax.models.named import is_name, resolve_model_dir

    _check_heads(heads, parts, out)
    folders = {part: resolve_model_dir(source) for part, source in parts.items()}
    for part, source in parts.items():  # before anything is copied
        if not (folders[part] / CONFIG).is_file():
            raise ModelError(f"part {part!r}: {source} is not a model directory (no {CONFIG})")
    out.mkdir(parents=True, exist_ok=True)
    stored: dict[str, Any] = {}
    for part, source in parts.items():
        if is_name(source):
            digest = _sha256(folders[part] / CONFIG)
            stored[part] = {"shipped": str(source), "config_sha256": digest}
            continue
        target = out / PARTS_DIR / part
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(folders[part], target)
        stored[part] = f"{PARTS_DIR}/{part}"
    config = {
        "kind": CompositeModel.kind,
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": version,
        "parts": stored,
        "heads": heads,
    }
    # the CWE lead's decoding settings (abstention, list lengths ...) are the composite's
    weights = _weights(heads["cwe"])
    lead = max(weights, key=lambda p: weights[p])
    decoding = read_json(folders[lead] / CONFIG, "model config").get("decoding")
    if isinstance(decoding, dict):
        config["decoding"] = decoding
    write_json(out / CONFIG, config)
    CompositeModel.load(out)  # fail now, not at prediction time, if a part is unusable
    return out


def _shipped_part(path: Path, name: str, where: dict[str, Any]) -> Path:
    """The directory of a part that is a shipped model, checked against the composite's
    record of it (one-line ModelErrors)."""
    from vulntax.models.named import NAMED, named_dir

    shipped = where.get("shipped")
    if shipped not in NAMED:
        raise ModelError(
            f"{path / CONFIG}: part {name!r} names no shipped model ({shipped!r}; "
            f"there are {', '.join(NAMED)})"
        )
    folder = named_dir(str(shipped))
    if folder.resolve() == path.resolve():
        raise ModelError(f"{path / CONFIG}: part {name!r} is the composite itself")
    if not (folder / CONFIG).is_file():
        raise ModelError(
            f"{path}: part {name!r} is the shipped {shipped!r} model, which this installation "
            "lacks; reinstall vulntax"
        )
    if _sha256(folder / CONFIG) != where.get("config_sha256"):
        raise ModelError(
            f"{path}: part {name!r} was made with another {shipped!r} model than the one "
            "installed; compose it again on this one (bench/finetune/accurate.py)"
        )
    return folder


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _weights(value: Any) -> dict[str, float]:
    if isinstance(value, str):
        return {value: 1.0}
    if not isinstance(value, dict) or not value:
        raise ModelError(
            f"composite: a head names a part or a table of part weights, not {value!r}"
        )
    weights = {str(k): float(v) for k, v in value.items()}
    total = sum(weights.values())
    if any(w <= 0 for w in weights.values()) or total <= 0:
        raise ModelError(f"composite: ensemble weights must be positive: {value!r}")
    return {k: w / total for k, w in weights.items()}


def _check_heads(heads: Mapping[str, Any], parts: Mapping[str, Any], where: Path) -> None:
    missing = [h for h in HEADS if h not in heads]
    unknown_heads = [h for h in heads if h not in HEADS]
    named = {p for v in heads.values() for p in ([v] if isinstance(v, str) else list(v))}
    unknown_parts = sorted(p for p in named if p not in parts)
    if missing or unknown_heads or unknown_parts:
        raise ConfigError(
            f"{where}: composite heads must map each of {', '.join(HEADS)} to a part or to part "
            f"weights (missing {missing}, unknown heads {unknown_heads}, "
            f"unknown parts {unknown_parts})"
        )


def _need(value: Any, head: str, part: str) -> Any:
    if value is None:
        raise ModelError(f"composite: part {part!r} does not predict the {head} head")
    return value
