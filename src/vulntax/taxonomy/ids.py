"""Spelling rules for taxonomy ids: ``CWE-79``, ``CAPEC-66``, ``T1059.001``, ``TA0001``.

These functions only fix the *form* of an id (case, blanks, leading zeros, a bare
number); whether the catalog defines it is the catalogs' business.
"""

from __future__ import annotations

import re

from vulntax.errors import UnknownIdError

#: the NVD placeholders that stand where no specific CWE was given; not catalog ids
NVD_PLACEHOLDERS = ("NVD-CWE-Other", "NVD-CWE-noinfo")

_NUMBERED = re.compile(r"(?:(?P<prefix>[A-Za-z]+)[-_: ]?)?0*(?P<number>\d+)")
# a trailing period is tolerated: analysts' sheets hold ids like "T1078.003."
_TECHNIQUE = re.compile(r"[Tt]0*(?P<major>\d{1,4})(?:[./](?P<minor>\d{1,3}))?\.?")
_TACTIC = re.compile(r"TA0*(?P<number>\d{1,4})", re.IGNORECASE)


def numbered_id(value: str | int, prefix: str) -> str:
    """``value`` written as ``PREFIX-N``: ``79``, ``"79"``, ``"cwe-079"`` → ``"CWE-79"``.

    Raises :class:`UnknownIdError` for anything that is not such an id (another
    prefix, no number, a negative number, a bool).
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise UnknownIdError(f"{value!r} is not a {prefix} id (expected e.g. {prefix}-79 or 79)")
    if isinstance(value, int):
        if value < 0:
            raise UnknownIdError(f"{value} is not a {prefix} id (negative number)")
        return f"{prefix}-{value}"
    text = value.strip()
    if any(text.casefold() == p.casefold() for p in NVD_PLACEHOLDERS):
        raise UnknownIdError(
            f"{text} is an NVD placeholder (no specific weakness given), not a {prefix} id"
        )
    match = _NUMBERED.fullmatch(text)
    if match is None or (
        match.group("prefix") is not None and match.group("prefix").upper() != prefix
    ):
        raise UnknownIdError(f"{value!r} is not a {prefix} id (expected e.g. {prefix}-79 or 79)")
    return f"{prefix}-{int(match.group('number'))}"


def id_number(identifier: str) -> int:
    """The number of a well-formed ``PREFIX-N`` id (for sorting by number)."""
    return int(identifier.rsplit("-", 1)[1])


def technique_id(value: str) -> str:
    """An ATT&CK technique id in canonical form: ``" t1059/001 "`` → ``"T1059.001"``.

    A trailing period (``"T1059.001."``, as in some analysts' sheets) is dropped.
    """
    if not isinstance(value, str):
        raise UnknownIdError(f"{value!r} is not an ATT&CK technique id (expected e.g. T1059.001)")
    match = _TECHNIQUE.fullmatch(value.strip())
    if match is None:
        raise UnknownIdError(f"{value!r} is not an ATT&CK technique id (expected e.g. T1059.001)")
    major = f"T{int(match.group('major')):04d}"
    minor = match.group("minor")
    return major if minor is None else f"{major}.{int(minor):03d}"


def tactic_id(value: str) -> str:
    """An ATT&CK tactic id in canonical form: ``"ta1"`` → ``"TA0001"``."""
    match = _TACTIC.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise UnknownIdError(f"{value!r} is not an ATT&CK tactic id (expected e.g. TA0001)")
    return f"TA{int(match.group('number')):04d}"
