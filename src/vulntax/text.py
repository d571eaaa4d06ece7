"""Text normalisation shared by the dataset, every model and the predictor.

The model input never contains CVE or CWE identifiers: a description that
names its own CWE ("… (CWE-79)") would teach a model to read the answer
instead of the text, and a CVE id carries the publication year. Models call
:func:`model_input` at training *and* prediction time, so both see the same
text.
"""

from __future__ import annotations

import re
import string
import unicodedata

_IDS = re.compile(r"\b(?:CVE-\d{4}-\d{4,}|CWE[-_ ]?\d+)\b", re.IGNORECASE)
#: a description that :func:`model_input` does not leave empty, as a JSON Schema pattern
#: (no flags there, hence the spelled-out cases): anything but whitespace and CVE/CWE ids;
#: the part after the look-ahead only lets generators (Hypothesis) build matching texts
#: (texts that only NFKC turns into ids, e.g. in full-width letters, are not covered)
USABLE_TEXT_PATTERN = (
    r"^(?!\s*(?:\b(?:[Cc][Vv][Ee]-\d{4}-\d{4,}|[Cc][Ww][Ee][-_ ]?\d+)\b\s*)*$)[\s\S]*\S"
)
# a number or a dotted version ("10", "1.2.3", "2021-33758") becomes one "0"
_NUMBER = re.compile(r"\d+(?:[._-]\d+)*")
_PUNCT = str.maketrans({p: " " for p in string.punctuation})


def _nfkc(text: str) -> str:
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def model_input(description: str) -> str:
    """The text a model sees: ids removed, Unicode normalised, whitespace collapsed."""
    text = _nfkc(description)
    lowered = text.lower()
    if "cve" in lowered or "cwe" in lowered:
        text = _IDS.sub(" ", text)
    return " ".join(text.split())


def exact_key(description: str) -> str:
    """Key under which two descriptions count as the same text (case and spacing ignored)."""
    return " ".join(_nfkc(description).split()).casefold()


def near_key(description: str) -> str:
    """Key under which two descriptions differ only in numbers and punctuation.

    "… in Foo 1.2.3 allows …" and "… in Foo 10.4, allows …" share this key. Ids are
    removed first (:func:`model_input`), so "unique from CVE-2021-1" texts match too.
    """
    text = _NUMBER.sub("0", model_input(description).casefold())
    return " ".join(text.translate(_PUNCT).split())


def words(description: str) -> list[str]:
    """The words of :func:`near_key`, used for shingling."""
    return near_key(description).split()
