"""What int8 storage costs and buys a fine-tuned multitask model.

    python bench/finetune/quantize.py --model DIR --dataset /work/main/runs/dataset-p2 \
        --out OUT_INT8_DIR [--agree 500] [--n 2000] [--threads 2] [--skip-cold]

Writes the int8 copy of ``DIR`` to ``--out`` (``quantize_model``; the Linear layers run
in int8 when that was measured faster here, else the weights are dequantised to fp32)
and prints, for the fp32 model, the int8 model with fp32 compute ("dequant") and the int8
model with int8 compute ("int8"):

* size of ``weights.safetensors`` and of the whole directory;
* on ``--agree`` test descriptions (a fixed random sample): the largest absolute
  difference of any probability (CWE, CVSS, CAPEC, ATT&CK) against fp32, the share of
  equal argmax answers (CWE and each CVSS metric), and accuracy against the gold labels
  (CWE top-1 among labelled rows, mean CVSS per-metric accuracy);
* throughput: ``Predictor.predict_batch`` over ``--n`` test descriptions in batches of
  512 (as ``vulntax predict --input`` does), ``--threads`` torch threads, after a warm-up;
* cold start, each in a fresh process: ``load_model`` alone (imports included), and
  ``vulntax predict --model DIR "text"`` wall time (process start → printed answer).

Raw figures go to ``bench/results/quantize-<model dir name>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
TEXT = "SQL injection in the login form of Foo CMS 1.2 allows remote attackers to run SQL."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a fine-tuned multitask model dir")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", required=True, help="where to write the int8 model")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--agree", type=int, default=500)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args()
    os.environ.pop("VULNTAX_EMBEDDING_CACHE", None)

    import torch

    import multitask_common as common
    from vulntax.dataset.store import load_dataset
    from vulntax.models.multitask.quantize import quantize_model

    torch.set_num_threads(args.threads)
    src, out = Path(args.model), Path(args.out)
    ds = load_dataset(args.dataset)
    cols = ["description", "cwe", "AV", "AC", "PR", "UI", "S", "C", "I", "A"]
    test = ds.columns("test", cols)
    rows = common.test_sample_rows(ds, max(args.agree, args.n))
    sample = [{c: test[c][i] for c in cols} for i in rows]
    texts = [r["description"] for r in sample]

    tmp = Path(tempfile.mkdtemp(prefix="vulntax-quant-"))
    try:
        variants = {"fp32": src, "dequant": tmp / "dequant", "int8": tmp / "int8"}
        sizes = quantize_model(src, variants["dequant"], int8_compute=False)
        quantize_model(src, variants["int8"], int8_compute=True)
        report: dict[str, Any] = {
            "model": str(src),
            "hardware": f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start",
            "threads": args.threads,
            "sizes": {
                **sizes,
                "fp32_dir_bytes": _dir_bytes(src),
            },
        }
        print(f"sizes: {json.dumps(report['sizes'])}")
        report["agreement"] = agreement(variants, sample[: args.agree])
        report["throughput"] = {
            name: throughput(folder, texts[: args.n], args.data_dir)
            for name, folder in variants.items()
        }
        print(f"throughput (descriptions/s): {json.dumps(report['throughput'])}")
        faster = report["throughput"]["int8"]["per_s"] > report["throughput"]["dequant"]["per_s"]
        report["int8_compute"] = faster
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(variants["int8" if faster else "dequant"], out)
        print(f"wrote {out} (int8_compute={faster})")
        if not args.skip_cold:
            report["cold_start"] = {
                name: cold_start(folder, args.data_dir, args.threads)
                for name, folder in (("fp32", src), ("int8", out))
            }
            print(f"cold start (s): {json.dumps(report['cold_start'])}")
        report["load_end"] = os.getloadavg()[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results = ROOT / "bench" / "results" / f"quantize-{src.resolve().name}.json"
    results.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"raw figures: {results}")


def agreement(variants: dict[str, Path], sample: list[dict[str, Any]]) -> dict[str, Any]:
    from vulntax.models import load_model

    texts = [r["description"] for r in sample]
    outputs = {}
    for name, folder in variants.items():
        model: Any = load_model(folder)
        outputs[name] = (model.labels, model.predict_batch(texts))
    labels, ref = outputs["fp32"]
    result: dict[str, Any] = {"rows": len(texts)}
    for name, (_, got) in outputs.items():
        diff = max(
            float(np.abs(got.cwe - ref.cwe).max()),
            max(float(np.abs(got.cvss[m] - ref.cvss[m]).max()) for m in ref.cvss),
            float(np.abs(got.capec - ref.capec).max()) if ref.capec.size else 0.0,
            float(np.abs(got.attack - ref.attack).max()) if ref.attack.size else 0.0,
        )
        same = {"CWE": float((got.cwe.argmax(1) == ref.cwe.argmax(1)).mean())}
        same.update(
            {m: float((got.cvss[m].argmax(1) == ref.cvss[m].argmax(1)).mean()) for m in ref.cvss}
        )
        result[name] = {
            "max_abs_prob_diff": diff,
            "argmax_agreement": same,
            "min_argmax_agreement": min(same.values()),
            "accuracy": accuracy(labels, got, sample),
        }
        print(f"{name}: {json.dumps(result[name])}")
    return result


def accuracy(labels: Any, out: Any, sample: list[dict[str, Any]]) -> dict[str, float]:
    """CWE top-1 (answer among the gold CWEs, labelled rows) and mean CVSS per-metric accuracy."""
    cwe = [labels.cwe[i] for i in out.cwe.argmax(1)]
    hits = [c in (r["cwe"] or []) for c, r in zip(cwe, sample, strict=True) if r["cwe"]]
    per_metric = []
    for m, values in labels.cvss.items():
        got = [values[i] for i in out.cvss[m].argmax(1)]
        pairs = [(g, r[m]) for g, r in zip(got, sample, strict=True) if r.get(m)]
        if pairs:
            per_metric.append(float(np.mean([g == gold for g, gold in pairs])))
    return {
        "cwe_top1": float(np.mean(hits)) if hits else float("nan"),
        "cwe_rows": len(hits),
        "cvss_mean_acc": float(np.mean(per_metric)) if per_metric else float("nan"),
    }


def throughput(folder: Path, texts: list[str], data_dir: str) -> dict[str, float]:
    from vulntax.predictor import Predictor

    predictor = Predictor(folder, data_dir=data_dir)
    predictor.predict_batch([(None, t) for t in texts[:32]])  # warm-up
    started = time.perf_counter()
    for i in range(0, len(texts), 512):
        predictor.predict_batch([(None, t) for t in texts[i : i + 512]])
    seconds = time.perf_counter() - started
    return {"per_s": round(len(texts) / seconds, 1), "seconds": round(seconds, 2)}


def cold_start(folder: Path, data_dir: str, threads: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), VULNTAX_DATA_DIR=data_dir)
    env["OMP_NUM_THREADS"] = str(threads)
    code = (
        "import time; t = time.perf_counter(); from vulntax.models import load_model; "
        f"load_model({str(folder)!r}); print(time.perf_counter() - t)"
    )
    load = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "vulntax", "predict", "--model", str(folder), "--json", TEXT],
        env=env,
        capture_output=True,
        check=True,
    )
    return {
        "load_model_s": round(float(load.stdout.strip().splitlines()[-1]), 2),
        "predict_cli_s": round(time.perf_counter() - started, 2),
    }


def _dir_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


if __name__ == "__main__":
    main()
