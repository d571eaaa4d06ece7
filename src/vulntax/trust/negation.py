"""Negation scope: sentences that *deny* a weakness are dropped from the model input.

A bag of words cannot read "no SQL injection is possible": the words "sql injection"
push the answer toward CWE-89 whatever surrounds them. Descriptions are full of negation
that *is* the weakness ("does not properly validate", "without authentication", "no
authentication is required"), so only sentences whose negation denies that something is
possible (with "no …"), related or exploitable are dropped — e.g. "X is not affected",
"this is not a case of Y", "cannot be exploited to Z", "there is no evidence of W". A
text whose every sentence is a denial is kept as it is.

Measured on the validation split (docs/trust.md): it changes few real descriptions and
removes most of the pull of an appended denial.
"""

from __future__ import annotations

import re

# not "possible" or "present": "it was not possible to lock …", "when a license is not
# present" are conditions that describe the weakness, not denials of one
_STATE = (
    r"(?:vulnerable|affected|susceptible|exploitable|related|relevant|involved|"
    r"caused|due|introduced|applicable|the\s+cause|the\s+result)"
)
_DENIAL = re.compile(
    r"\bno\s+(?:[\w-]+\s+){0,4}?(?:is|are|was|were|has\s+been|have\s+been|exists?|existed)\s+"
    r"(?:possible|involved|introduced|exploitable|found|known|reported)\b"
    rf"|\b(?:is|are|was|were|be|being)\s+(?:not|never)\s+(?:\w+\s+)?{_STATE}\b"
    rf"|\b(?:isn't|aren't|wasn't|weren't|isn’t|aren’t)\s+(?:\w+\s+)?{_STATE}\b"
    r"|\b(?:does|do|did)\s*(?:not|n't|n’t)\s+(?:involve|relate|stem|arise|constitute|lead\s+to"
    r"|result\s+in)\b"
    r"|\bnot\s+(?:an?\s+)?(?:instance|case|form|kind|type|variant)\s+of\b"
    r"|\bno\s+(?:evidence|indication|sign|risk|possibility)\s+of\b"
    r"|\b(?:cannot|can\s+not|can't|can’t|could\s+not|couldn't)\s+be\s+(?:exploited|used|"
    r"leveraged|abused|triggered)\b"
    r"|\b(?:rules?|ruled)\s+out\b"
    r"|\bunrelated\s+to\b",
    re.IGNORECASE,
)
_CUES = ("no", "not", "n't", "n’t", "never", "rule", "unrelated")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+")


def drop_denials(text: str) -> str:
    """``text`` without its denial sentences (unchanged if it has none, or only those)."""
    lowered = text.lower()
    if not any(cue in lowered for cue in _CUES) or _DENIAL.search(text) is None:
        return text
    sentences = _SENTENCE.split(text)
    kept = [s for s in sentences if _DENIAL.search(s) is None]
    if not kept or len(kept) == len(sentences):
        return text
    return " ".join(kept)
