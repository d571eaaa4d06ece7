"""Fit the two heads stacked on a model — CVSS v4.0 and metadata — and measure them.

Both read an existing model's outputs, so they are fitted after it, in a few
minutes, without touching its files (``python bench/records/fit.py``):

1. **Read the records** of the data folder once: every record's metadata
   (:mod:`vulntax.metadata`) by id, and the CNA CVSS v4.0 vectors of the CVE
   JSON 5 records.
2. **Metadata head**: metadata-only classifiers on the dataset's train split,
   the combiner and the CWE boost on its validation split; scored once on the
   test split, on rows whose gold comes from NVD analysts (a CNA-labelled row
   would have its own gold among the inputs).
3. **CVSS v4.0 head**: the v4.0 records split by publication date (train <
   ``v4_validation_start`` ≤ validation < ``v4_test_start`` ≤ test); C chosen on
   validation, refitted on train + validation, scored once on test beside the
   majority baseline and the rule-based v3.1 → v4.0 translation; the shipped
   head is then refitted on all of them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.metadata import RecordMeta, from_record

CVSS_METRICS = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")


@dataclass(frozen=True)
class FitSettings:
    v4_validation_start: str = "2024-09-01"
    v4_test_start: str = "2024-10-01"
    v4_c_grid: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0)
    meta_c: float = 1.0  # metadata-only classifiers
    mix_c: float = 1.0  # the combiner
    cwe_alpha_grid: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
    min_token_count: int = 3
    batch: int = 4096


@dataclass
class V4Example:
    id: str
    text: str
    published: datetime
    metrics: dict[str, str]  # the eleven v4.0 base metrics
    cna_v3: dict[str, str] | None  # the same CNA's v3 base metrics, if it gave them


def read_sources(
    data_dir: Path, log: Callable[[str], None]
) -> tuple[dict[str, RecordMeta], list[V4Example], dict[str, str]]:
    """Metadata by CVE id (NVD's and CVE JSON 5's records merged), the v4.0 examples, and
    CNA aliases: a CVE JSON 5 short name -> the sourceIdentifier NVD gives the same CNA."""
    from vulntax.errors import InvalidVectorError
    from vulntax.ingest import read_records
    from vulntax.records import IngestReport, InputFormat, LabelSource
    from vulntax.taxonomy import cvss4

    metas: dict[str, RecordMeta] = {}
    v4: list[V4Example] = []
    pairs: dict[str, Counter[str]] = defaultdict(Counter)
    report = IngestReport()
    for folder in ("nvd", "cve5"):
        for record in read_records(data_dir / folder, report):
            meta = from_record(record)
            if meta is not None:
                known = metas.get(record.id)
                if known and known.cna and meta.cna and record.origin is InputFormat.CVE5:
                    pairs[meta.cna.strip().lower()][known.cna.strip().lower()] += 1
                metas[record.id] = merge(known, meta)
            if record.origin is not InputFormat.CVE5 or record.published is None:
                continue
            label = next((c for c in record.cvss if c.version == "4.0"), None)
            if label is None or label.source is not LabelSource.CNA:
                continue
            try:
                metrics = cvss4.metrics_from_vector(label.vector)
            except InvalidVectorError:
                continue
            cna_v3 = meta.cna_cvss if meta is not None else None
            published = record.published.astimezone(UTC).replace(tzinfo=None)
            v4.append(
                V4Example(
                    record.id,
                    record.description,
                    published,
                    metrics,
                    dict(cna_v3) if cna_v3 else None,
                )
            )
    aliases = {short: names.most_common(1)[0][0] for short, names in pairs.items()}
    log(
        f"read {report.records:,} records: {len(metas):,} with metadata, {len(v4):,} v4.0 "
        f"vectors, {len(aliases):,} CNA aliases"
    )
    return metas, v4, aliases


def merge(first: RecordMeta | None, second: RecordMeta) -> RecordMeta:
    """One CVE's metadata from two records (NVD's, then CVE JSON 5's): each field from the
    first that has it, references from both."""
    if first is None:
        return second
    return RecordMeta(
        cna=first.cna or second.cna,
        references=tuple(dict.fromkeys((*first.references, *second.references))),
        cna_cwes=first.cna_cwes or second.cna_cwes,
        cna_cvss=first.cna_cvss or second.cna_cvss,
    )


def model_outputs(
    model: Any, texts: list[str], batch: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The model's CWE (N, n_cwe) and CVSS (metric -> (N, k)) probabilities."""
    from vulntax.predictor import MAX_TEXT
    from vulntax.text import model_input

    cwe, cvss = [], {m: [] for m in CVSS_METRICS}  # type: ignore[var-annotated]
    for start in range(0, len(texts), batch):
        chunk = [model_input(t[:MAX_TEXT]) or "-" for t in texts[start : start + batch]]
        out = model.predict_batch(chunk)
        cwe.append(out.cwe)
        for m in CVSS_METRICS:
            cvss[m].append(out.cvss[m])
    return np.vstack(cwe), {m: np.vstack(v) for m, v in cvss.items()}


# ------------------------------------------------------------------ CVSS v4.0


def fit_cvss4(
    model: Any, examples: list[V4Example], settings: FitSettings, log: Callable[[str], None]
) -> tuple[Any, dict[str, Any]]:
    """Measure the v4.0 head on the date split, then fit the shipped head on every example."""
    from vulntax.models.cvss4_head import fit_head
    from vulntax.taxonomy import cvss4

    labels = model.labels
    examples = sorted(examples, key=lambda e: (e.published, e.id))
    cwe_p, cvss_p = model_outputs(model, [e.text for e in examples], settings.batch)
    x = np.hstack([*(cvss_p[m] for m in CVSS_METRICS), cwe_p]).astype(np.float32)
    val_start = datetime.fromisoformat(settings.v4_validation_start)
    test_start = datetime.fromisoformat(settings.v4_test_start)
    split = np.array(
        [
            "train"
            if e.published < val_start
            else "validation"
            if e.published < test_start
            else "test"
            for e in examples
        ]
    )
    targets = {m: [e.metrics[m] for e in examples] for m in cvss4.BASE_METRICS}
    v3_values = {m: list(labels.cvss[m]) for m in CVSS_METRICS}

    def head_on(mask: np.ndarray, c: float) -> Any:
        t = {m: [v for v, k in zip(targets[m], mask, strict=True) if k] for m in targets}
        return fit_head(x[mask], t, v3_values, list(labels.cwe), c, {})

    def accuracy(head: Any, mask: np.ndarray) -> dict[str, float]:
        probs = head.probabilities(x[mask])
        gold = {m: np.array(targets[m])[mask] for m in targets}
        return {
            m: float(np.mean(np.array(head.values[m])[probs[m].argmax(1)] == gold[m]))
            for m in targets
        }

    train, val, test = (split == s for s in ("train", "validation", "test"))
    chosen, best = settings.v4_c_grid[0], -1.0
    per_c = {}
    for c in settings.v4_c_grid:
        mean = float(np.mean(list(accuracy(head_on(train, c), val).values())))
        per_c[str(c)] = round(mean, 4)
        if mean > best:
            chosen, best = c, mean
    log(f"v4.0 head: validation mean accuracy by C {per_c}; chosen C={chosen}")
    head = head_on(train | val, chosen)
    learned = accuracy(head, test)
    gold_test = {m: np.array(targets[m])[test] for m in targets}
    majority = {m: Counter(np.array(targets[m])[train | val]).most_common(1)[0][0] for m in targets}
    majority_acc = {m: float(np.mean(gold_test[m] == majority[m])) for m in targets}
    predicted_v3 = [
        {m: labels.cvss[m][int(cvss_p[m][i].argmax())] for m in CVSS_METRICS}
        for i in np.flatnonzero(test)
    ]
    rule = [cvss4.from_v3(v) for v in predicted_v3]
    rule_acc = {m: float(np.mean(gold_test[m] == np.array([r[m] for r in rule]))) for m in targets}
    test_rows = [examples[i] for i in np.flatnonzero(test)]
    with_v3 = [(i, e) for i, e in enumerate(test_rows) if e.cna_v3]
    cna_rule_acc = (
        {
            m: float(np.mean([cvss4.from_v3(e.cna_v3)[m] == e.metrics[m] for _, e in with_v3]))  # type: ignore[arg-type]
            for m in targets
        }
        if with_v3
        else {}
    )
    probs = head.probabilities(x[test])
    exact_learned = float(
        np.mean(
            [
                all(
                    head.values[m][probs[m][i].argmax()] == test_rows[i].metrics[m] for m in targets
                )
                for i in range(len(test_rows))
            ]
        )
    )
    exact_rule = float(np.mean([r == e.metrics for r, e in zip(rule, test_rows, strict=True)]))
    counts = {s: int((split == s).sum()) for s in ("train", "validation", "test")}
    report = {
        "examples": counts,
        "split": {
            "validation_start": settings.v4_validation_start,
            "test_start": settings.v4_test_start,
        },
        "validation_mean_accuracy_by_C": per_c,
        "C": chosen,
        "test": {
            "learned": _with_mean(learned) | {"exact_vector": round(exact_learned, 4)},
            "majority": _with_mean(majority_acc),
            "rule_from_predicted_v3": _with_mean(rule_acc) | {"exact_vector": round(exact_rule, 4)},
            "rule_from_cna_v3": _with_mean(cna_rule_acc) | {"rows": len(with_v3)}
            if cna_rule_acc
            else {},
        },
    }
    info = {
        "trained_on": "CNA CVSS v4.0 vectors of the CVE JSON 5 records, every date",
        "examples": len(examples),
        "C": chosen,
        "fitted": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    final = fit_head(x, targets, v3_values, list(labels.cwe), chosen, info)
    return final, report


def _with_mean(acc: dict[str, float]) -> dict[str, float]:
    out = {m: round(v, 4) for m, v in acc.items()}
    if acc:
        out["mean"] = round(float(np.mean(list(acc.values()))), 4)
    return out


# ------------------------------------------------------------------ metadata


def fit_metadata(
    model: Any,
    dataset_dir: Path,
    metas: dict[str, RecordMeta],
    catalog: Any,
    settings: FitSettings,
    log: Callable[[str], None],
    aliases: dict[str, str] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Fit the metadata head on the dataset's train/validation splits, score it on test."""
    from vulntax.dataset.store import load_dataset
    from vulntax.models.metadata_head import MetadataHead, cwe_class_mapper
    from vulntax.models.stacking import fit_linear

    labels = model.labels
    values = {m: list(labels.cvss[m]) for m in CVSS_METRICS}
    columns = ["id", "description", "cwe", "cwe_source", "cvss_source", *CVSS_METRICS]
    dataset = load_dataset(dataset_dir)
    parts = {s: dataset.columns(s, columns) for s in ("train", "validation", "test")}
    tokens = {
        s: [metas[i].tokens(aliases) if i in metas else [] for i in p["id"]]
        for s, p in parts.items()
    }
    counts = Counter(t for row in tokens["train"] for t in set(row))
    vocabulary = sorted(t for t, c in counts.items() if c >= settings.min_token_count)
    empty = {m: np.zeros((0, 0), np.float32) for m in CVSS_METRICS}
    head = MetadataHead(
        vocabulary,
        values,
        dict(empty),
        dict(empty),
        dict(empty),
        dict(empty),
        0.0,
        {},
        aliases or {},
    )
    log(f"metadata: {len(vocabulary):,} tokens seen ≥ {settings.min_token_count}× in train")

    def cvss_rows(split: str) -> list[int]:  # NVD-analyst gold and some metadata
        p = parts[split]
        return [
            i
            for i, src in enumerate(p["cvss_source"])
            if src == "nvd" and tokens[split][i] and p["AV"][i]
        ]

    def gold(split: str, rows: list[int], m: str) -> np.ndarray:
        return np.array([values[m].index(parts[split][m][i]) for i in rows])

    rows = cvss_rows("train")
    x = head.matrix([tokens["train"][i] for i in rows])
    for m in CVSS_METRICS:
        head.meta_w[m], head.meta_b[m] = fit_linear(
            x, gold("train", rows, m), len(values[m]), settings.meta_c
        )
    log(f"metadata-only classifiers fitted on {len(rows):,} train rows")

    to_class = cwe_class_mapper(labels.cwe, catalog)

    def named(split: str, rows: list[int]) -> list[list[int]]:
        out = []
        for i in rows:
            meta = metas.get(parts[split]["id"][i])
            cols = {to_class(c) for c in (meta.cna_cwes if meta else ())}
            out.append(sorted(c for c in cols if c is not None))
        return out

    def cwe_rows(split: str) -> list[int]:
        p = parts[split]
        return [
            i
            for i, src in enumerate(p["cwe_source"])
            if src == "nvd" and tokens[split][i] and p["cwe"][i]
        ]

    evaluation: dict[str, Any] = {}
    for split in ("validation", "test"):
        rows_c, rows_w = cvss_rows(split), cwe_rows(split)
        texts = [parts[split]["description"][i] for i in rows_c + rows_w]
        cwe_p, cvss_p = model_outputs(model, texts, settings.batch)
        text_cvss = {m: p[: len(rows_c)] for m, p in cvss_p.items()}
        text_cwe = cwe_p[len(rows_c) :]
        x = head.matrix([tokens[split][i] for i in rows_c])
        golds = {m: gold(split, rows_c, m) for m in CVSS_METRICS}
        cwe_gold = [set(parts[split]["cwe"][i]) for i in rows_w]
        cwe_named = named(split, rows_w)
        if split == "validation":
            for m in CVSS_METRICS:
                p_meta = _softmax_rows(x, head.meta_w[m], head.meta_b[m])
                z = np.hstack([np.log(text_cvss[m] + 1e-6), np.log(p_meta + 1e-6)])
                head.mix_w[m], head.mix_b[m] = fit_linear(
                    z, golds[m], len(values[m]), settings.mix_c
                )
            by_alpha = {}
            for alpha in settings.cwe_alpha_grid:
                head.cwe_alpha = alpha
                by_alpha[str(alpha)] = _cwe_accuracy(
                    head.adjust_cwe(text_cwe, cwe_named), labels.cwe, cwe_gold
                )
            head.cwe_alpha = float(max(settings.cwe_alpha_grid, key=lambda a: by_alpha[str(a)]))
            log(f"CWE boost: validation accuracy by alpha {by_alpha}; chosen {head.cwe_alpha}")
            evaluation["validation_cwe_accuracy_by_alpha"] = by_alpha
            continue
        adjusted = head.adjust_cvss(text_cvss, x)
        with_vector = np.array([bool(metas[parts[split]["id"][i]].cna_cvss) for i in rows_c])
        cna_equal = np.array(
            [
                dict(metas[parts[split]["id"][i]].cna_cvss or {})
                == {m: parts[split][m][i] for m in CVSS_METRICS}
                for i in rows_c
            ]
        )
        evaluation["test_cvss"] = {
            subset: _cvss_report(text_cvss, adjusted, golds, mask)
            for subset, mask in (
                ("all rows with metadata", np.ones(len(rows_c), bool)),
                ("with the CNA's vector", with_vector),
                ("without the CNA's vector (CNA and references only)", ~with_vector),
            )
        }
        evaluation["test_cvss"]["cna_vector_equals_gold"] = {
            "rows_with_cna_vector": int(with_vector.sum()),
            "exact_vector_equal": int(cna_equal.sum()),
        }
        boosted = head.adjust_cwe(text_cwe, cwe_named)
        has_named = np.array([bool(c) for c in cwe_named])
        evaluation["test_cwe"] = {
            "rows": len(rows_w),
            "rows_with_cna_cwe": int(has_named.sum()),
            "text_only": _cwe_accuracy(text_cwe, labels.cwe, cwe_gold),
            "with_metadata": _cwe_accuracy(boosted, labels.cwe, cwe_gold),
            "cna_cwe_in_gold": round(
                float(
                    np.mean(
                        [
                            bool({labels.cwe[c] for c in n} & g)
                            for n, g in zip(cwe_named, cwe_gold, strict=True)
                            if n
                        ]
                    )
                ),
                4,
            )
            if has_named.any()
            else None,
        }
    description_only = sum(1 for row in tokens["test"] if not row)
    head.info = {
        "trained_on": {
            "metadata_only": "train split, NVD gold",
            "combiner_and_cwe_boost": "validation split, NVD gold",
        },
        "dataset_split": dataset.manifest.get("split"),
        "tokens": len(vocabulary),
        "fitted": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    report = {
        "rows": {s: {"cvss": len(cvss_rows(s)), "cwe": len(cwe_rows(s))} for s in parts},
        "test_rows_without_metadata": description_only,
        **evaluation,
    }
    return head, report


def _softmax_rows(x: Any, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    from vulntax.models.calibration import softmax

    return softmax(np.asarray(x @ w) + b)


def _cwe_accuracy(probs: np.ndarray, labels: list[str], gold: list[set[str]]) -> float:
    chosen = probs.argmax(axis=1)
    return round(float(np.mean([labels[c] in g for c, g in zip(chosen, gold, strict=True)])), 4)


def _cvss_report(
    text: dict[str, np.ndarray],
    adjusted: dict[str, np.ndarray],
    gold: dict[str, np.ndarray],
    mask: np.ndarray,
) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": int(mask.sum())}
    if not mask.any():
        return out
    for name, probs in (("text_only", text), ("with_metadata", adjusted)):
        hits = {m: probs[m][mask].argmax(1) == gold[m][mask] for m in CVSS_METRICS}
        acc = {m: round(float(h.mean()), 4) for m, h in hits.items()}
        acc["mean"] = round(float(np.mean([h.mean() for h in hits.values()])), 4)
        acc["exact_vector"] = round(
            float(np.mean(np.all(np.vstack(list(hits.values())), axis=0))), 4
        )
        out[name] = acc
    return out
