"""Fit the CVSS v4.0 and metadata heads on an existing model directory, and measure them.

    python bench/records/fit.py --model DIR --dataset DS --data-dir ../shared/data \
        [--out DIR] [--install] [--results bench/results/records-fit.json]

Writes cvss4.safetensors + cvss4.json and metadata.safetensors + metadata.json into
--out (default: the --model directory); --install writes them into the shipped model
(src/vulntax/default_model) instead. Prints the figures and saves them as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a saved model directory")
    parser.add_argument("--dataset", type=Path, required=True, help="a vulntax dataset directory")
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="the data folder (nvd/, cve5/)"
    )
    parser.add_argument("--out", type=Path, default=None, help="where to write the heads")
    parser.add_argument("--install", action="store_true", help="write into the shipped model")
    parser.add_argument("--results", type=Path, default=None, help="save the figures here (JSON)")
    args = parser.parse_args(argv)

    from vulntax.models import DEFAULT_MODEL_DIR, load_model
    from vulntax.records_fit import FitSettings, fit_cvss4, fit_metadata, read_sources
    from vulntax.taxonomy import load_catalog

    out = DEFAULT_MODEL_DIR if args.install else (args.out or args.model)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    settings = FitSettings()
    model = load_model(args.model)
    catalog = load_catalog(args.data_dir)
    metas, v4, aliases = read_sources(args.data_dir, log)
    cvss4_head, cvss4_report = fit_cvss4(model, v4, settings, log)
    meta_head, meta_report = fit_metadata(
        model, args.dataset, metas, catalog, settings, log, aliases
    )
    out.mkdir(parents=True, exist_ok=True)
    cvss4_head.save(out)
    meta_head.save(out)
    log(f"wrote cvss4.* and metadata.* to {out}")
    results = {
        "model": str(args.model),
        "dataset": str(args.dataset),
        "seconds": round(time.perf_counter() - started, 1),
        "cvss4": cvss4_report,
        "metadata": meta_report,
    }
    text = json.dumps(results, indent=2)
    print(text)
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
