"""LSNet against the linear model on the time-split test set (the results of docs/lsnet.md).

    python bench/lsnet_results.py --dataset runs/dataset --linear runs/linear \
        --lsnet bias=runs/lsnet --lsnet nobias=runs/lsnet-nobias --out runs/lsnet-results

Each LSNet model answers CVSS inside a composite beside the linear model (CWE, CAPEC and
ATT&CK stay the linear model's), so rows differ only in CVSS. The ensembles average the
CVSS probabilities, ``w · linear + (1 − w) · LSNet``; ``w`` is chosen on the validation
split from ``--weights`` (mean per-metric accuracy against NVD's vectors), never on test.
Test is then scored once per model with ``vulntax evaluate``'s harness. Prints Markdown
tables (all gold sources, and NVD's own vectors, which is what the models learn), the
paired differences in mean per-metric accuracy between the models with 95 % bootstrap
intervals, writes ``results.json`` and, with ``--speed N``, the CVSS throughput of each
model on the first N test descriptions (batches of 256, after one warm-up batch).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path
from typing import Any

METRICS = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")
DATA = str(Path(__file__).resolve().parents[1].parent / "shared" / "data")


def composite(out: Path, linear: Path, lsnet: Path, w: float | None) -> Path:
    from vulntax.models.composite import compose

    cvss: Any = "lsnet" if w is None else {"linear": w, "lsnet": round(1 - w, 4)}
    heads = {"cwe": "linear", "cvss": cvss, "capec": "linear", "attack": "linear"}
    return compose(out, {"linear": linear, "lsnet": lsnet}, heads, out.name, "bench")


def cvss_figures(report: dict[str, Any]) -> dict[str, Any]:
    """The CVSS figures of a report: all sources and NVD only, model and baseline."""
    section = report["cvss"]
    return {
        "all": section["overall"],
        "nvd": section["by_source"].get("nvd"),
    }


def evaluate(model_dir: Path, dataset: Any, split: str, data_dir: str) -> dict[str, Any]:
    from vulntax.evaluate import evaluate_dataset
    from vulntax.predictor import Predictor

    started = time.perf_counter()
    report = evaluate_dataset(Predictor(model_dir, data_dir=data_dir), dataset, split)
    figures = cvss_figures(report)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures


def table(rows: dict[str, dict[str, Any]], source: str) -> str:
    columns = [*METRICS, "mean acc.", "exact vector", "score MAE", "severity"]
    head = "| model | " + " | ".join(columns) + " |"
    lines = [head, "|---" * (len(METRICS) + 5) + "|"]
    baseline = None
    for name, figures in rows.items():
        part = figures[source]
        if part is None:
            continue
        baseline = part["baseline"]
        lines.append(_row(name, part["model"]))
    if baseline:
        lines.append(_row("majority baseline", baseline))
    return "\n".join(lines)


def _row(name: str, f: dict[str, Any]) -> str:
    cells = [f"{f['accuracy'][m]:.3f} / {f['macro_f1'][m]:.3f}" for m in METRICS]
    return (
        f"| {name} | "
        + " | ".join(cells)
        + f" | {f['mean_accuracy']:.3f} | {f['exact_vector']:.3f} | "
        + f"{f['base_score_mae']:.2f} | {f['severity_accuracy']:.3f} |"
    )


def paired_differences(
    dirs: dict[str, Path], gold: Any, pairs: list[tuple[str, str]], seed: int = 0
) -> dict[str, Any]:
    """Mean per-metric CVSS accuracy differences between models on the same records, with a
    95 % paired-bootstrap interval (1,000 resamples of the records), for NVD's gold vectors
    and for all sources. It measures test-set sampling noise, not seed-to-seed noise."""
    import numpy as np

    from vulntax.evaluate.cvss_only import cvss_columns
    from vulntax.models import load_model

    labelled = [i for i, v in enumerate(gold.cvss_vector) if v is not None]
    texts = [gold.texts[i] for i in labelled]
    nvd = np.asarray([gold.cvss_source[i] == "nvd" for i in labelled])
    hits: dict[str, np.ndarray] = {}
    for name in {n for pair in pairs for n in pair}:
        columns = cvss_columns(load_model(dirs[name]), texts)
        hits[name] = np.mean(
            [[columns.cvss[m][r] == gold.cvss[m][i] for m in METRICS]
             for r, i in enumerate(labelled)],
            axis=1,
        )  # fmt: skip
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for a, b in pairs:
        row = {}
        for source, mask in (("nvd", nvd), ("all", np.ones_like(nvd))):
            diff = (hits[a] - hits[b])[mask]
            boots = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(1000)]
            low, high = np.percentile(boots, [2.5, 97.5])
            row[source] = {
                "records": int(mask.sum()),
                "difference": round(float(diff.mean()), 4),
                "ci95": [round(float(low), 4), round(float(high), 4)],
            }
        out[f"{a} − {b}"] = row
        print(f"{a} − {b}: {row}", flush=True)
    return out


def throughput(model_dir: Path, texts: list[str]) -> float:
    from vulntax.models import load_model

    model = load_model(model_dir)
    model.predict_batch(texts[:256])
    started = time.perf_counter()
    for i in range(0, len(texts), 256):
        model.predict_batch(texts[i : i + 256])
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    from vulntax.dataset.store import load_dataset
    from vulntax.evaluate.gold import from_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-dir", default=DATA)
    parser.add_argument("--linear", required=True, type=Path)
    parser.add_argument("--lsnet", action="append", required=True, help="NAME=MODEL_DIR")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--weights", default="0.3,0.5,0.7")
    parser.add_argument("--speed", type=int, default=0, help="throughput on N test texts")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = load_dataset(args.dataset)
    lsnets = dict(item.split("=", 1) for item in args.lsnet)
    results: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {_cores()} cores",
        "validation": {},
        "test": {},
    }

    def save() -> None:
        (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    # 1. the ensemble weight per LSNet model, on validation
    chosen: dict[str, float] = {}
    for name, path in lsnets.items():
        best: tuple[float, float] | None = None
        for w in [float(x) for x in args.weights.split(",")]:
            folder = composite(args.out / f"{name}-w{w}", args.linear, Path(path), w)
            figures = evaluate(folder, dataset, "validation", args.data_dir)
            results["validation"][f"{name} w={w}"] = figures
            score = figures["nvd"]["model"]["mean_accuracy"]
            print(f"validation {name} w={w}: NVD mean accuracy {score:.4f}", flush=True)
            if best is None or score > best[0]:
                best = (score, w)
        assert best is not None
        chosen[name] = best[1]
    results["chosen_weights"] = chosen
    save()

    # 2. test, once per model
    models = {"linear": args.linear}
    for name, path in lsnets.items():
        models[f"LSNet {name}"] = composite(args.out / name, args.linear, Path(path), None)
        w = chosen[name]
        models[f"{w} linear + {round(1 - w, 2)} LSNet {name}"] = args.out / f"{name}-w{w}"
    for name, folder in models.items():
        results["test"][name] = evaluate(Path(folder), dataset, "test", args.data_dir)
        print(f"test {name}: {results['test'][name]['seconds']} s", flush=True)
        save()
    for source in ("all", "nvd"):
        print(f"\n### test, gold from {source} (accuracy / macro-F1)\n")
        print(table(results["test"], source))

    # 3. paired differences of the mean per-metric accuracy, with bootstrap intervals
    gold = from_dataset(dataset, "test")
    dirs = {"linear": args.linear, **{name: Path(path) for name, path in lsnets.items()}}
    names = list(lsnets)
    pairs = [(name, "linear") for name in names]
    pairs += [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))]
    results["paired"] = paired_differences(dirs, gold, pairs)
    save()

    # 4. throughput
    if args.speed:
        texts = list(from_dataset(dataset, "test").texts)[: args.speed]
        results["throughput"] = {"texts": len(texts)}
        for name, folder in {"linear": args.linear, **lsnets}.items():
            rate = throughput(Path(folder), texts)
            results["throughput"][name] = round(rate, 1)
            print(f"throughput {name}: {rate:,.0f} descriptions/s")
        save()


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
