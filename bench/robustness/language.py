"""Measure the not_english heuristic (src/vulntax/trust/signals.py) with a model's vocabulary.

    python bench/robustness/language.py --model DIR --dataset DATASET [--data-dir ../shared/data]

Prints the share flagged among the validation split's descriptions (false alarms), among
the German CVE JSON 5 descriptions of the data folder (VulDB writes German and English
ones), and among the translated messages of /usr/share/locale (every language there).
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from vulntax.dataset.store import load_dataset
from vulntax.models import load_model
from vulntax.text import model_input
from vulntax.trust.corpus import translations
from vulntax.trust.model import known_share
from vulntax.trust.signals import signals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-dir", default="../shared/data")
    args = parser.parse_args()
    vocabulary = load_model(args.model).features.vocabulary  # type: ignore[attr-defined]

    def flagged(text: str) -> bool:
        sig = signals(model_input(text))
        return sig.not_english(known_share(sig, vocabulary, True))

    valid = load_dataset(args.dataset, verify=False).columns("validation", ["description"])
    alarms = [t for t in valid["description"] if flagged(t)]
    print(f"validation descriptions flagged: {len(alarms)} of {len(valid['description']):,}")
    german = []
    path = Path(args.data_dir) / "cve5" / "vulnrichment-2024-10-24.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            for d in json.loads(line)["containers"].get("cna", {}).get("descriptions", []):
                if d.get("lang") == "de":
                    german.append(d["value"])
    print(
        f"German CVE descriptions flagged: {np.mean([flagged(t) for t in german]):.4f} "
        f"of {len(german):,}"
    )
    by_language: dict[str, list[bool]] = defaultdict(list)
    for chunk in translations():
        by_language[Path(chunk.source).parts[-3]].append(flagged(chunk.text))
    every = [f for flags in by_language.values() for f in flags]
    worst = sorted((float(np.mean(f)), lang) for lang, f in by_language.items() if len(f) >= 30)[:5]
    print(
        f"translated messages flagged: {np.mean(every):.4f} of {len(every):,} chunks in "
        f"{len(by_language)} languages; lowest: "
        + ", ".join(f"{lang} {rate:.2f}" for rate, lang in worst)
    )


if __name__ == "__main__":
    main()
