"""Every passage's publication day (its article's), read once per index version, so the recency lift
looks up a question's 200 candidates in memory rather than with a query (0.4 to 0.9 ms each at 65k
passages). Read as one row per article (its passages' id span), not per passage: at a million passages
that is ~0.3 s a version rather than ~1.1 s; and a newer version reads only the articles of passages numbered
above the ones held (`grown`), since passage ids only grow: a single-article update cost a serving process
~0.45 s at a million passages reading every article again (`benchmarks/scale.py --stream`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from index.questions.recency import FUTURE_SLACK_DAYS, parse_day

if TYPE_CHECKING:
    from index.engines.snapshot import Snapshot

UNKNOWN = 0  # an article without a (readable) publication day: never fresh
STALE_SHARE, STALE_SLACK = 1.1, 1000  # a grown table past this many times the live passages (+ slack) is read anew


class PublishedDays:
    """Passage id -> the proleptic ordinal of its article's publication day (`UNKNOWN` when it has none)."""

    def __init__(self, rows: Iterable[tuple[int, str | None]]) -> None:
        found = sorted((pid, day.toordinal() if (day := parse_day(published)) else UNKNOWN) for pid, published in rows)
        self.pids = np.fromiter((pid for pid, _ in found), dtype=np.int64, count=len(found))
        self.days = np.fromiter((day for _, day in found), dtype=np.int64, count=len(found))

    @classmethod
    def from_spans(
        cls, spans: Iterable[tuple[str, str | None, int, int, int]], passages_of: Callable[[set[str]], set[int]]
    ) -> PublishedDays:
        """From `Snapshot.passage_spans` rows: (article id, published, smallest passage id, largest, count).

        An update gives an article's passages consecutive ids, so each span is expanded in place; an article
        whose ids are not consecutive (none is written so) has its passage ids asked of `passages_of`.
        """
        spans = list(spans)
        parsed: dict[str | None, int] = {}
        for _, published, _, _, _ in spans:
            if published not in parsed:
                parsed[published] = day.toordinal() if (day := parse_day(published)) else UNKNOWN
        first = np.fromiter((s[2] for s in spans), dtype=np.int64, count=len(spans))
        last = np.fromiter((s[3] for s in spans), dtype=np.int64, count=len(spans))
        counts = np.fromiter((s[4] for s in spans), dtype=np.int64, count=len(spans))
        days = np.fromiter((parsed[s[1]] for s in spans), dtype=np.int64, count=len(spans))
        whole = last - first + 1 == counts
        counts, first, whole_days = counts[whole], first[whole], days[whole]
        starts = np.cumsum(counts) - counts
        pids = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts - first, counts)
        days_of = np.repeat(whole_days, counts)
        scattered = {s[0]: days[i] for i, s in enumerate(spans) if not whole[i]}
        if scattered:
            extra = [(pid, day) for article, day in scattered.items() for pid in passages_of({article})]
            pids = np.concatenate([pids, np.asarray([e[0] for e in extra], dtype=np.int64)])
            days_of = np.concatenate([days_of, np.asarray([e[1] for e in extra], dtype=np.int64)])
        order = np.argsort(pids, kind="stable")
        found = cls.__new__(cls)
        found.pids, found.days = pids[order], days_of[order]
        return found

    def grown(self, snapshot: Snapshot) -> PublishedDays:
        """These days plus those of `snapshot`'s passages numbered above every one held: a newer version of the same
        index (its new and changed articles' passages always have new, larger ids). Removed passages stay, looked up
        by nobody, until they pass a tenth of the table; then the table is read anew."""
        if len(self.pids) > STALE_SHARE * len(snapshot.keywords) + STALE_SLACK:
            return PublishedDays.from_spans(snapshot.passage_spans(), snapshot.passages_of)
        after = int(self.pids[-1]) if len(self.pids) else 0
        new = PublishedDays.from_spans(snapshot.passage_spans(after), snapshot.passages_of)
        if not len(new.pids):
            return self
        found = PublishedDays.__new__(PublishedDays)
        found.pids, found.days = np.concatenate([self.pids, new.pids]), np.concatenate([self.days, new.days])
        return found

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
