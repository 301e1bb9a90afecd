"""Every passage's publication day (its article's), read once per index version, so the recency lift
looks up a question's 200 candidates in memory rather than with a query (0.4 to 0.9 ms each at 65k
passages)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np

from index.questions.recency import FUTURE_SLACK_DAYS, parse_day

UNKNOWN = 0  # an article without a (readable) publication day: never fresh


class PublishedDays:
    """Passage id -> the proleptic ordinal of its article's publication day (`UNKNOWN` when it has none)."""

    def __init__(self, rows: Iterable[tuple[int, str | None]]) -> None:
        found = sorted((pid, day.toordinal() if (day := parse_day(published)) else UNKNOWN) for pid, published in rows)
        self.pids = np.fromiter((pid for pid, _ in found), dtype=np.int64, count=len(found))
        self.days = np.fromiter((day for _, day in found), dtype=np.int64, count=len(found))

    def fresh(self, pids: list[int], asked: date, window: int) -> np.ndarray:
        """For each passage id, whether its article was published in the `window` days up to `asked` (or the
        day after: time zones); False without a publication day, and for an id this version does not hold."""
        wanted = np.asarray(pids, dtype=np.int64)
        if not len(self.pids) or not len(wanted):
            return np.zeros(len(wanted), dtype=bool)
        at = np.minimum(np.searchsorted(self.pids, wanted), len(self.pids) - 1)
        days = np.where(self.pids[at] == wanted, self.days[at], UNKNOWN)
        age = asked.toordinal() - days
        return (days != UNKNOWN) & (age >= -FUTURE_SLACK_DAYS) & (age <= window)
