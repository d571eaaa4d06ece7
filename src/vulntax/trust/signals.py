"""Cheap per-text signals for the trust checks: reserved/rejected markers, language, size.

Everything here is a few regular-expression passes over one text (microseconds), so the
checks cost nothing next to the model.

**Language** is a measured heuristic (docs/trust.md): a text of at least
``MIN_WORDS_FOR_LANGUAGE`` words is not English when most of its letters are in a
non-Latin script; or when the function words of other common languages outnumber the
English ones and make up at least ``OTHER_SHARE`` of its words; or when it has few English
function words (under ``FEW_ENGLISH``) and either many accented Latin letters or, given
the model's vocabulary, few words the model knows (under ``KNOWN_SHARE``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vulntax.models.tfidf import TOKEN_PATTERN
from vulntax.trust.words import ENGLISH_FUNCTION_WORDS, OTHER_FUNCTION_WORDS

# NVD's and the CVE Program's placeholders for ids that carry no vulnerability description
_RESERVED = re.compile(
    r"\*\*\s*(?:RESERVED|REJECT(?:ED)?)\s*\*\*|^\W*Rejected reason\s*:", re.IGNORECASE
)
_WORDS = re.compile(r"[^\W\d_]+")  # runs of letters
_TOKENS = re.compile(TOKEN_PATTERN)  # the tf-idf tokens
# letters of scripts other than Latin: Greek … Ethiopic, Cherokee … Mongolian, Greek
# extended, CJK / kana / Hangul, compatibility ideographs, half-width kana and Hangul
_NON_LATIN = re.compile("[\u0370-\u1dff\u1f00-\u1fff\u2e80-\ud7ff\uf900-\ufaff\uff66-\uffdc]")

MIN_WORDS_FOR_LANGUAGE = 6  # fewer letter words: too little text to tell a language
NON_LATIN_SHARE = 0.5  # more of the letters in another script: not English
OTHER_SHARE = 0.08  # other languages' function words: at least this share, and more than English
FEW_ENGLISH = 0.1  # English function words under this share of the words ...
ACCENTED_SHARE = 0.03  # ... and this share of the letters accented (é, ł, ő, …) ...
KNOWN_SHARE = 0.6  # ... or fewer than this share of distinct tokens in the model's vocabulary
_ACCENTED = re.compile("[\u00c0-\u024f]")


@dataclass(frozen=True)
class Signals:
    reserved: bool  # a ** RESERVED ** / ** REJECT ** placeholder
    words: int  # letter words
    english_share: float  # share of those words that are English function words
    other_share: float  # share that are function words of other common languages
    non_latin_share: float  # share of the letters in non-Latin scripts
    accented_share: float  # share of the letters that are accented Latin letters
    tokens: list[str]  # the tf-idf tokens (lower case), as the model's features see them

    def not_english(self, known_share: float | None = None) -> bool:
        """The language rule; ``known_share``: share of distinct tokens the model knows."""
        if self.non_latin_share > NON_LATIN_SHARE and self.words >= 1:
            return True
        if self.words < MIN_WORDS_FOR_LANGUAGE:
            return False
        if self.other_share >= OTHER_SHARE and self.other_share > self.english_share:
            return True
        return self.english_share < FEW_ENGLISH and (
            self.accented_share >= ACCENTED_SHARE
            or (known_share is not None and known_share < KNOWN_SHARE)
        )


def signals(text: str) -> Signals:
    lowered = text.lower()
    words = _WORDS.findall(lowered)
    letters = sum(map(len, words))
    english = sum(map(ENGLISH_FUNCTION_WORDS.__contains__, words))
    other = sum(map(OTHER_FUNCTION_WORDS.__contains__, words))
    ascii_only = text.isascii()
    non_latin = 0 if ascii_only else len(_NON_LATIN.findall(text))
    accented = 0 if ascii_only else len(_ACCENTED.findall(text))
    return Signals(
        reserved=("**" in text or "reason" in lowered) and _RESERVED.search(text) is not None,
        words=len(words),
        english_share=english / len(words) if words else 0.0,
        other_share=other / len(words) if words else 0.0,
        non_latin_share=min(1.0, non_latin / letters) if letters else 0.0,
        accented_share=min(1.0, accented / letters) if letters else 0.0,
        tokens=_TOKENS.findall(lowered),
    )
