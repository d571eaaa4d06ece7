"""A teacher's probabilities over many texts, for distillation (:mod:`vulntax.models.distill`).

Any saved vulntax model can teach. :func:`teacher_labels` runs it in batches (with a progress
bar) and keeps, per text, its top :data:`TOP_K` CWE labels and every CVSS metric's
distribution. They are cached in one safetensors file (nothing pickled) named after the
teacher's files (:func:`fingerprint`) and the texts, so a rerun reads them back.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TOP_K = 10  # teacher CWE probabilities kept per description (the cache stores these only)
BATCH = 512


@dataclass
class TeacherLabels:
    """A teacher's probabilities over N texts, in the teacher's label order."""

    cwe_labels: list[str]
    cwe_index: np.ndarray  # (N, TOP_K) int32 indices into cwe_labels, most probable first
    cwe_p: np.ndarray  # (N, TOP_K) float32
    cvss: dict[str, tuple[list[str], np.ndarray]]  # metric -> (values, (N, n_values))
    teacher: str  # the teacher's fingerprint

    def __len__(self) -> int:
        return len(self.cwe_index)


def fingerprint(model_dir: str | Path) -> str:
    """sha256 of a model directory's JSON and safetensors files (names and contents)."""
    digest = hashlib.sha256()
    folder = Path(model_dir)
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in (".json", ".safetensors", ".gz"):
            digest.update(path.name.encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def teacher_labels(
    teacher_dir: str | Path,
    texts: Sequence[str],
    cache_dir: str | Path | None = None,
    show_progress: bool = False,
    log: Any = print,
) -> TeacherLabels:
    """The teacher's probabilities for ``texts``, read from ``cache_dir`` when already made."""
    from safetensors.numpy import load_file, save_file

    from vulntax.models import load_model
    from vulntax.progress import progress

    teacher = fingerprint(teacher_dir)
    text_digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
    key = hashlib.sha256(f"{teacher}:{text_digest}:{TOP_K}".encode()).hexdigest()[:20]
    cached = Path(cache_dir) / f"teacher-{key}.safetensors" if cache_dir else None
    if cached is not None and cached.is_file():
        t = load_file(str(cached))
        labels = json.loads(bytes(t["labels_json"]).decode())
        log(f"teacher labels from the cache {cached}")
        return TeacherLabels(
            labels["cwe"],
            t["cwe.index"],
            t["cwe.p"],
            {m: (labels["cvss"][m], t[f"cvss.{m}"]) for m in labels["cvss"]},
            teacher,
        )
    model = load_model(teacher_dir)
    n, k = len(texts), min(TOP_K, max(1, len(model.labels.cwe)))
    cwe_index = np.zeros((n, TOP_K), dtype=np.int32)
    cwe_p = np.zeros((n, TOP_K), dtype=np.float32)
    cvss = {m: np.zeros((n, len(v)), dtype=np.float32) for m, v in model.labels.cvss.items()}
    started = time.perf_counter()
    with progress(show_progress) as bar:
        task = bar.add_task("teacher labels", total=n)
        for start in range(0, n, BATCH):
            batch = list(texts[start : start + BATCH])
            out, end = model.predict_batch(batch), start + len(batch)
            if out.cwe is not None and len(model.labels.cwe):
                top = np.argsort(-out.cwe, axis=1, kind="stable")[:, :k]
                cwe_index[start:end, :k] = top
                cwe_p[start:end, :k] = np.take_along_axis(out.cwe, top, axis=1)
            for metric, probs in out.cvss.items():
                if metric in cvss:
                    cvss[metric][start:end] = probs
            bar.advance(task, end - start)
    log(f"teacher labelled {n:,} texts ({time.perf_counter() - started:.0f} s)")
    labels_json = json.dumps({"cwe": model.labels.cwe, "cvss": model.labels.cvss})
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, np.ndarray] = {"cwe.index": cwe_index, "cwe.p": cwe_p}
        tensors.update({f"cvss.{m}": cvss[m] for m in cvss})
        tensors["labels_json"] = np.frombuffer(labels_json.encode(), dtype=np.uint8).copy()
        save_file(tensors, str(cached), metadata={"teacher": str(teacher_dir), "n": str(n)})
    return TeacherLabels(
        list(model.labels.cwe),
        cwe_index,
        cwe_p,
        {m: (list(v), cvss[m]) for m, v in model.labels.cvss.items()},
        teacher,
    )
