"""Where batch prediction spends its time: the share of each stage, in one process.

    python bench/stages.py --dataset DIR [--split test] [--limit 20000] [--model DIR]

The corpus is the one of ``bench/throughput.py`` (the split's descriptions), written once
as an NVD 2.0 feed (``{"vulnerabilities": [{"cve": {"id", "descriptions"}}]}``). Each
stage runs over the whole corpus in batches of 512, one process, one core, timed on its
own in CPU seconds of this process (``time.process_time``: steadier than wall time on a
busy machine), in the order ``vulntax predict --input`` runs them:

read/parse (the feed reader) → normalise (:func:`vulntax.text.model_input`) →
featurise (tf-idf) → model (the sparse product, softmax, CAPEC/ATT&CK) → decode (the
prediction objects, the evidence's objects included) → evidence (finding each head's
top terms) → serialise (orjson) → write.

Evidence is timed by calling the model output's ``explain`` the way the predictor does;
decode is the predictor's decoding time minus that. Prints a table and the load average.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

BATCH = 512


def write_feed(ids: list[str], texts: list[str], path: Path) -> None:
    """The corpus as a gzip-free NVD 2.0 feed (only the fields a reader needs)."""
    items = [
        {"cve": {"id": i, "descriptions": [{"lang": "en", "value": t}]}}
        for i, t in zip(ids, texts, strict=True)
    ]
    feed = {"format": "NVD_CVE", "version": "2.0", "vulnerabilities": items}
    path.write_bytes(orjson.dumps(feed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=20_000, help="records of the split used")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    from vulntax.batch import encode, items_of
    from vulntax.dataset.store import load_dataset
    from vulntax.predictor import MAX_TEXT, Predictor
    from vulntax.records import IngestReport
    from vulntax.text import model_input

    cols = load_dataset(args.dataset, verify=False).columns(args.split, ["id", "description"])
    ids, texts = cols["id"][: args.limit], cols["description"][: args.limit]
    predictor = Predictor(args.model)
    from vulntax.runtime import for_prediction

    for_prediction()  # as `vulntax predict --input` does
    t: dict[str, float] = dict.fromkeys(
        ("read/parse", "normalise", "featurise", "model", "decode", "evidence", "serialise"), 0.0
    )
    t["write"] = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "corpus.json"
        write_feed(ids, texts, feed)
        start = time.process_time()
        items = list(items_of(feed, IngestReport()))
        t["read/parse"] = time.process_time() - start
        assert len(items) == len(ids)
        blocks: list[bytes] = []
        for lo in range(0, len(items), BATCH):
            batch = items[lo : lo + BATCH]
            s = time.process_time()
            cleaned = [model_input(text[:MAX_TEXT]) for _, text in batch]  # type: ignore[misc]
            t["normalise"] += time.process_time() - s
            s = time.process_time()
            x = predictor.model.features.transform(cleaned)
            t["featurise"] += time.process_time() - s
            s = time.process_time()
            output = predictor.model.predict_features(x)
            t["model"] += time.process_time() - s
            explained = 0.0
            inner = output.explain

            def timed(*a: Any, _inner: Any = inner) -> Any:
                nonlocal explained
                s2 = time.process_time()
                out = _inner(*a)
                explained += time.process_time() - s2
                return out

            output.explain = timed
            s = time.process_time()
            results = predictor._decode_batch([i for i, _ in batch], output)  # type: ignore[misc]
            t["decode"] += time.process_time() - s - explained
            t["evidence"] += explained
            s = time.process_time()
            blocks.append(encode(results))
            t["serialise"] += time.process_time() - s
        s = time.process_time()
        with open(Path(tmp) / "out.jsonl", "wb") as sink:
            for block in blocks:
                sink.write(block)
        t["write"] = time.process_time() - s
    total = sum(t.values())
    print(f"corpus: {len(ids):,} descriptions of the {args.split} split, as an NVD 2.0 feed")
    print("| stage | seconds | share | µs / record |")
    print("|---|---:|---:|---:|")
    for stage, sec in t.items():
        print(f"| {stage} | {sec:.2f} | {100 * sec / total:.0f} % | {1e6 * sec / len(ids):.0f} |")
    print(f"| **total** (one core) | {total:.2f} | 100 % | {1e6 * total / len(ids):.0f} |")
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
