"""Speed of the shipped models: batch throughput over a fixed corpus, and cold start.

    python bench/finetune/speed.py --dataset runs/dataset-p2 [--model default --model accurate]
        [--n 2000] [--threads 2] [--rounds 2]

Throughput: ``Predictor.predict_batch`` over the first ``--n`` descriptions of the fixed
test sample (``multitask_common.test_sample_rows``) in batches of 512, as ``vulntax predict
--input`` does, after a warm-up; the best of ``--rounds``. Cold start, in a fresh process:
``load_model`` alone (imports included) and ``vulntax predict --model NAME "text"`` (process
start to printed answer). Raw figures go to ``bench/results/speed-shipped.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "finetune"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--model", action="append", default=None, help="name or folder")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import torch
    from quantize import cold_start, throughput

    import multitask_common as common
    from vulntax.dataset.store import load_dataset

    torch.set_num_threads(args.threads)
    ds = load_dataset(args.dataset)
    test = ds.columns("test", ["description"])["description"]
    texts = [test[i] for i in common.test_sample_rows(ds, args.n)]
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, torch {torch.__version__}",
        "load_at_start": round(os.getloadavg()[0], 2),
        "texts": len(texts),
        "threads": args.threads,
        "models": {},
    }
    for model in args.model or ["default", "accurate"]:
        runs = [throughput(model, texts, args.data_dir) for _ in range(args.rounds)]
        best = max(runs, key=lambda r: r["per_s"])
        cold = cold_start(model, args.data_dir, args.threads)
        report["models"][model] = {"throughput": best, "rounds": runs, "cold_start": cold}
        print(f"{model}: {best['per_s']} descriptions/s; cold start {json.dumps(cold)}")
    report["load_at_end"] = round(os.getloadavg()[0], 2)
    out = ROOT / "bench" / "results" / "speed-shipped.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"raw figures: {out}")


if __name__ == "__main__":
    main()
