"""The deterministic time-based split: train on older CVEs, test on newer ones.

A record's split follows the publication date of its duplicate group's
earliest member (see :mod:`vulntax.dataset.dedup`), so no test description has
a near-copy in training:

* ``train``       published before ``validation_start`` (default 2022-01-01)
* ``validation``  from ``validation_start`` to before ``test_start`` (2022-07-01)
* ``test``        from ``test_start`` on (the newest CVEs: NVD 2022-H2 to 2024
  and the CNA/CISA-labelled CVE JSON 5 records of 2023–2024)
* ``undated``     no publication date: kept in the file, in no split

Why these dates: NVD's analysed records are dense up to the end of 2022 and
sparse after; a test split starting 2022-07-01 holds about 9k NVD-labelled
CVEs plus the CNA-labelled 2023–2024 records, while training keeps everything
up to 2021.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from vulntax.errors import ConfigError

SPLITS = ("train", "validation", "test")
UNDATED = "undated"


@dataclass(frozen=True)
class SplitPlan:
    validation_start: date = date(2022, 1, 1)
    test_start: date = date(2022, 7, 1)

    def __post_init__(self) -> None:
        if not self.validation_start < self.test_start:
            raise ConfigError(
                f"split: validation_start ({self.validation_start}) must come before "
                f"test_start ({self.test_start})"
            )

    def assign(self, published: datetime | date | None) -> str:
        if published is None:
            return UNDATED
        day = published.date() if isinstance(published, datetime) else published
        if day < self.validation_start:
            return "train"
        if day < self.test_start:
            return "validation"
        return "test"

    def to_dict(self) -> dict[str, str]:
        return {
            "validation_start": self.validation_start.isoformat(),
            "test_start": self.test_start.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> SplitPlan:
        try:
            return cls(
                validation_start=date.fromisoformat(data["validation_start"]),
                test_start=date.fromisoformat(data["test_start"]),
            )
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"split: invalid split plan {data!r}: {exc}") from exc
