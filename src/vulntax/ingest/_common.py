"""Small helpers the format readers share: timestamps, English text, ids, record errors."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from vulntax.records import CvssLabel, CweLabel, LabelSource, RecordError

# Generic skip reasons (they aggregate in an IngestReport; specifics go in RecordError.detail).
NOT_AN_OBJECT = "record is not an object"
INVALID_JSON = "invalid JSON line"
MISSING_ID = "missing id"
MISSING_DESCRIPTION = "missing description"
NO_ENGLISH = "no English description"
BAD_DATE = "invalid date"
REJECTED = "rejected CVE (no description)"
NOT_A_RECORD_FILE = "not a record file"

UTF8_BOM = b"\xef\xbb\xbf"


class BadRecord(Exception):
    """Raised inside a record converter; the reader turns it into a :class:`RecordError`."""

    def __init__(self, reason: str, detail: str = "", record_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail
        self.record_id = record_id

    def to_error(self, path: str, index: int, record_id: str | None = None) -> RecordError:
        return RecordError(path, index, record_id or self.record_id, self.reason, self.detail)


def timestamp(value: Any, field: str) -> datetime | None:
    """An ISO-8601 timestamp as an aware datetime; naive ones are UTC. ``None`` stays ``None``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecord(BAD_DATE, f"{field} is not a string: {value!r:.40}")
    try:
        return _parse_timestamp(value)
    except ValueError:
        raise BadRecord(BAD_DATE, f"{field} {value!r:.40} is not an ISO-8601 timestamp") from None


@lru_cache(maxsize=1 << 16)  # feeds repeat timestamps a lot (NVD's are on the quarter hour)
def _parse_timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


def english_text(descriptions: Any) -> str | None:
    """The first non-empty English value of ``[{"lang": ..., "value": ...}]``, stripped.

    Exactly "en" wins over regional tags ("en-US", "en_GB"), which win over nothing.
    """
    if not isinstance(descriptions, list):
        return None
    regional: str | None = None
    for item in descriptions:
        if not isinstance(item, dict):
            continue
        lang = item.get("lang")
        value = item.get("value")
        if not isinstance(lang, str) or not isinstance(value, str) or not value.strip():
            continue
        lang = lang.lower()
        if lang == "en":
            return value.strip()
        if regional is None and lang[:3] in ("en-", "en_"):
            regional = value.strip()
    return regional


def record_id(value: Any) -> str:
    """A record id as text: a non-empty string, or an integer; anything else is an error."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        detail = "no id" if value is None else f"id is a {type(value).__name__}"
        raise BadRecord(MISSING_ID, detail)
    text = str(value).strip()
    if not text:
        raise BadRecord(MISSING_ID, "id is empty")
    return text


def score(value: Any) -> float | None:
    """A recorded CVSS base score as a float; ``None`` where absent or not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def languages(descriptions: Any) -> str:
    """The languages a ``descriptions`` list has, for a "no English description" message."""
    if not isinstance(descriptions, list) or not descriptions:
        return "no descriptions"
    langs = [d.get("lang") for d in descriptions if isinstance(d, dict)]
    return "languages: " + ", ".join(str(lang) for lang in langs)


# Labels are immutable and repeat a lot (a few thousand distinct ones in 166k NVD records):
# sharing one instance per distinct label saves building a frozen dataclass per record.
_LABEL_CACHE_LIMIT = 200_000
_cwe_labels: dict[tuple[str, LabelSource, str], CweLabel] = {}
_cvss_labels: dict[tuple[str, str, LabelSource, str, float | None], CvssLabel] = {}


def cwe_label(cwe_id: str, source: LabelSource, source_name: str) -> CweLabel:
    """``CweLabel(cwe_id, source, source_name)``, shared with equal labels read before."""
    key = (cwe_id, source, source_name)
    label = _cwe_labels.get(key)
    if label is None:
        if len(_cwe_labels) >= _LABEL_CACHE_LIMIT:
            _cwe_labels.clear()
        label = _cwe_labels[key] = CweLabel(cwe_id, source, source_name)
    return label


def cvss_label(
    version: str, vector: str, source: LabelSource, source_name: str, base_score: float | None
) -> CvssLabel:
    """``CvssLabel(...)``, shared with equal labels read before."""
    key = (version, vector, source, source_name, base_score)
    label = _cvss_labels.get(key)
    if label is None:
        if len(_cvss_labels) >= _LABEL_CACHE_LIMIT:
            _cvss_labels.clear()
        label = _cvss_labels[key] = CvssLabel(version, vector, source, source_name, base_score)
    return label
