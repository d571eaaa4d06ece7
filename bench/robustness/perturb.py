"""Perturbations of a description, each seeded per record so every run sees the same text.

* ``typos`` — one character edit (swap, drop, double, replace) in ~10 % of words of 3+ letters;
* ``case`` — the whole text upper-cased, lower-cased or title-cased;
* ``punctuation`` — sentence punctuation, brackets and quotes removed (a dot or hyphen
  inside a word, as in login.php or 1.2.3, stays);
* ``decoy`` — a sentence appended that names another weakness and denies it;
* ``half`` — the text cut to its first half (in words);
* ``markup`` — HTML and Markdown noise: a heading, tags, bold words, a link, entities.

``DECOYS`` holds the benchmark's denial sentences; ``DEV_DECOYS`` other wordings, used on
the validation split only to measure the negation hardening, so the test figures come from
sentences the hardening was not checked on.
"""

from __future__ import annotations

import random
import re
import string
import zlib
from collections.abc import Callable

WEAKNESSES = [
    ("CWE-89", "SQL injection"),
    ("CWE-79", "cross-site scripting"),
    ("CWE-787", "an out-of-bounds write"),
    ("CWE-416", "a use-after-free"),
    ("CWE-22", "path traversal"),
    ("CWE-352", "cross-site request forgery"),
    ("CWE-78", "OS command injection"),
    ("CWE-502", "deserialization of untrusted data"),
    ("CWE-918", "server-side request forgery"),
    ("CWE-476", "a NULL pointer dereference"),
]
DECOYS = [
    "The vendor states that no {w} is possible.",
    "This issue is not related to {w}.",
    "Note that this is not a case of {w}.",
    "The researchers found no evidence of {w}.",
]
DEV_DECOYS = [
    "According to the maintainers, no {w} was introduced.",
    "The flaw is not caused by {w}.",
    "It cannot be exploited to perform {w}.",
    "Analysts ruled out {w} as the cause.",
]
_EDGE_PUNCT = re.compile(r"[^\w\s]+(?=\s|$)|(?:(?<=\s)|^)[^\w\s]+")


def _rng(text: str, name: str) -> random.Random:
    return random.Random(zlib.crc32(f"{name}\x00{text}".encode()))


def typos(text: str) -> str:
    rng = _rng(text, "typos")
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) < 3 or not word.isalpha() or rng.random() >= 0.10:
            continue
        j = rng.randrange(len(word) - 1)
        kind = rng.randrange(4)
        if kind == 0:
            word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
        elif kind == 1:
            word = word[:j] + word[j + 1 :]
        elif kind == 2:
            word = word[:j] + word[j] + word[j:]
        else:
            word = word[:j] + rng.choice(string.ascii_lowercase) + word[j + 1 :]
        words[i] = word
    return " ".join(words)


def case(text: str) -> str:
    return [str.upper, str.lower, str.title][_rng(text, "case").randrange(3)](text)


def punctuation(text: str) -> str:
    return " ".join(_EDGE_PUNCT.sub("", text).split())


def decoy_with(templates: list[str]) -> Callable[[str, list[str]], str]:
    def decoy(text: str, gold: list[str]) -> str:
        rng = _rng(text, "decoy")
        others = [name for cwe, name in WEAKNESSES if cwe not in gold]
        sentence = rng.choice(templates).format(w=rng.choice(others))
        end = "" if text.rstrip().endswith((".", "!", "?")) else "."
        return f"{text.rstrip()}{end} {sentence}"

    return decoy


def half(text: str) -> str:
    words = text.split()
    return " ".join(words[: max(1, len(words) // 2)])


def markup(text: str) -> str:
    rng = _rng(text, "markup")
    words = text.split()
    for _ in range(max(1, len(words) // 10)):
        i = rng.randrange(len(words))
        words[i] = rng.choice(["**{}**", "<b>{}</b>", "`{}`", "_{}_", "<em>{}</em>"]).format(
            words[i]
        )
    body = " ".join(words).replace(" and ", " &amp; ", 1)
    head = rng.choice(["## Description\n\n", "<h2>Summary</h2>\n", "# Advisory\n"])
    tail = rng.choice(
        [
            "<br/>\n[Advisory](https://example.com/advisory)",
            "\n\n---\n*Reported via the bug tracker.*",
            '</p>\n<p><a href="https://example.org/issue">details</a></p>',
        ]
    )
    return f"{head}<p>{body}{tail}"


PERTURBATIONS: dict[str, Callable[[str], str]] = {
    "typos": typos,
    "case": case,
    "punctuation": punctuation,
    "half": half,
    "markup": markup,
}
