"""Training on damaged copies: examples added again cut short or with misspelt words.

A model trained only on whole, clean descriptions loses much more than half its accuracy
on half a description. ``with_damaged_copies`` appends, for a seeded share of the training
examples, a copy cut to its first ``keep`` share of words (``halves``), and for another
share a copy in which ~10 % of the longer words lose one letter (``misspell``). Copies keep
every label except the ATT&CK analyst mappings (the mapper learns from originals only).
Measured on validation in docs/trust.md.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any


def with_damaged_copies(examples: Any, halves: float, misspell: float, seed: int = 0) -> Any:
    """``examples`` plus the damaged copies (a new Examples; the input is not changed)."""
    if halves <= 0 and misspell <= 0:
        return examples
    rng = random.Random(seed)
    n = len(examples)
    picks: list[tuple[int, str]] = []
    for i in range(n):
        if rng.random() < halves:
            words = examples.texts[i].split()
            keep = max(1, round(len(words) * rng.uniform(0.3, 0.7)))
            picks.append((i, " ".join(words[:keep])))
        if rng.random() < misspell:
            picks.append((i, _drop_letters(examples.texts[i], rng)))
    rows = [i for i, _ in picks]
    return replace(
        examples,
        ids=examples.ids + [examples.ids[i] for i in rows],
        texts=examples.texts + [text for _, text in picks],
        cwe_gold=examples.cwe_gold + [[] for _ in rows],
        cwe_source=examples.cwe_source + [examples.cwe_source[i] for i in rows],
        cvss={m: v + [v[i] for i in rows] for m, v in examples.cvss.items()},
        cvss_source=examples.cvss_source + [examples.cvss_source[i] for i in rows],
        attack_kev=examples.attack_kev + [[] for _ in rows],
    )


def _drop_letters(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) >= 4 and word.isalpha() and rng.random() < 0.1:
            j = rng.randrange(1, len(word))
            words[i] = word[:j] + word[j + 1 :]
    return " ".join(words)
