"""Fill the MiniLM embedding cache for the texts the multitask benchmarks need.

Order: the training windows (CWE: last 1.5 years; CVSS: last ``--cvss-years``),
validation, the CTID ATT&CK gold CVEs, then the fixed test sample — so that an interrupted run
has the early experiments covered. Usage::

    python bench/multitask_embed.py --dataset /tmp/mt-ds --cache /tmp/mt-cache
"""

from __future__ import annotations

import argparse
import time

from multitask_common import CVSS_YEARS, test_sample_rows
from vulntax.dataset.split import SPLITS
from vulntax.dataset.store import load_dataset
from vulntax.models.data import DataConfig, load_examples
from vulntax.models.multitask.cache import cached_embeddings
from vulntax.models.multitask.encoders import minilm
from vulntax.text import model_input


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--cvss-years", type=float, default=CVSS_YEARS)
    parser.add_argument("--splits", default="train,validation,ctid,test")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    dataset = load_dataset(args.dataset)
    encoder = minilm(128)
    config = DataConfig(cvss_window_years=args.cvss_years)
    for part in args.splits.split(","):
        if part == "train":
            ex = load_examples(dataset, ["train"], config, training=True)
            texts = [
                t
                for i, t in enumerate(ex.texts)
                if ex.cwe_gold[i] or any(ex.cvss[m][i] is not None for m in ex.cvss)
            ]
        elif part == "ctid":
            cols = dataset.columns(list(SPLITS), ["description", "attack_ctid"])
            texts = [
                model_input(d)
                for d, t in zip(cols["description"], cols["attack_ctid"], strict=True)
                if t
            ]
        elif part == "test":
            cols = dataset.columns(part, ["description"])
            texts = [model_input(cols["description"][i]) for i in test_sample_rows(dataset)]
        else:
            cols = dataset.columns(part, ["description"])
            texts = [model_input(d) for d in cols["description"]]
        started = time.perf_counter()
        cached_embeddings(encoder, texts, args.cache, log=print)
        took = time.perf_counter() - started
        print(f"{part}: {len(texts):,} texts in {took:.0f} s", flush=True)


if __name__ == "__main__":
    main()
