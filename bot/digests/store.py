"""Scheduled digests per channel: `/news digest daily 08:00 [Europe/Berlin] [topic] [skip-empty]`,
`/news digest weekly mon 09:00 …`; the schedule and what was last sent live in the state database (`Index.state`).

When a digest is due is computed with APScheduler's `CronTrigger` in the digest's time zone (DST
included). A process claims a due digest (`claimed_at`, in one statement that also checks `last_due`), sends
it, then moves `last_due` on: with several bot processes exactly one sends it; a restart neither
repeats a sent digest nor skips a missed one (it is sent late, once); a process that dies while
sending leaves a claim that expires, and the digest is sent then (at least once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.digests.schedule import Schedule, weekday_name
from bot.state.tables import StateTables
from index import Index

CLAIM_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class Digest:
    """A channel's digest setting and where it stands."""

    channel: str
    cadence: str
    weekday: str | None
    at_time: str
    zone: str
    topic: str
    skip_empty: bool
    set_by: str | None
    set_at: str
    last_due: str
    last_seq: int
    claimed_at: str | None = None

    def trigger(self) -> CronTrigger:
        hour, minute = self.at_time.split(":")
        return CronTrigger(day_of_week=self.weekday or "*", hour=int(hour), minute=int(minute), timezone=ZoneInfo(self.zone))

    def due(self, now: datetime) -> datetime | None:
        """The latest scheduled time after `last_due` and not after `now` (one digest for any number missed)."""
        trigger, latest = self.trigger(), None
        moment = datetime.fromisoformat(self.last_due)
        zone = ZoneInfo(self.zone)
        for _ in range(400):  # more than a year of daily digests missed is sent once all the same
            upcoming = trigger.get_next_fire_time(None, moment + timedelta(seconds=1))
            if upcoming is not None and upcoming <= moment:  # APScheduler 3 repeats the second 02:30 of a DST fall-back
                upcoming = trigger.get_next_fire_time(None, moment + timedelta(hours=1, seconds=1))
            if upcoming is None or upcoming > now:
                break
            same_wall_time = upcoming.astimezone(zone).replace(tzinfo=None) == moment.astimezone(zone).replace(tzinfo=None)
            moment = upcoming
            if not same_wall_time:  # the hour that repeats when clocks go back fires once, not twice
                latest = upcoming
        return latest

    def describe(self) -> str:
        """'daily at 08:00 (Europe/Berlin)' or 'every Monday at 09:00 (UTC)', with the topic."""
        when = "daily" if self.cadence == "daily" else f"every {weekday_name(self.weekday)}"
        topic = f" on “{self.topic}”" if self.topic else ""
        quiet = ", skipped when nothing is new" if self.skip_empty else ""
        return f"{when} at {self.at_time} ({self.zone}){topic}{quiet}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class DigestStore(StateTables):
    """Digest settings in the state database."""

    def __init__(self, index: Index, clock: Callable[[], datetime] = _now) -> None:
        super().__init__(index)
        self.clock = clock

    def set(self, channel: str, schedule: Schedule, zone: str, user: str | None) -> Digest:
        """Set (or replace) the channel's digest; it covers articles arriving from now on."""
        now = self.clock().isoformat()
        digest = Digest(channel, schedule.cadence, schedule.weekday, schedule.at_time, zone, schedule.topic,
                        schedule.skip_empty, user, now, now, self.index.last_arrival())
        with self._conn() as conn:
            conn.execute(
                """INSERT INTO digests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
                   ON CONFLICT (channel) DO UPDATE SET cadence = excluded.cadence, weekday = excluded.weekday,
                   at_time = excluded.at_time, zone = excluded.zone, topic = excluded.topic,
                   skip_empty = excluded.skip_empty, set_by = excluded.set_by, set_at = excluded.set_at,
                   last_due = excluded.last_due, last_seq = excluded.last_seq, claimed_at = NULL""",
                (digest.channel, digest.cadence, digest.weekday, digest.at_time, digest.zone, digest.topic,
                 int(digest.skip_empty), digest.set_by, digest.set_at, digest.last_due, digest.last_seq),
            )
        return digest

    def get(self, channel: str) -> Digest | None:
        with self._conn() as conn:
            row = conn.execute("SELECT * FROM digests WHERE channel = ?", (channel,)).fetchone()
        return _digest(row) if row else None

    def all(self) -> list[Digest]:
        with self._conn() as conn:
            return [_digest(row) for row in conn.execute("SELECT * FROM digests ORDER BY channel")]

    def clear(self, channel: str) -> bool:
        with self._conn() as conn:
            return conn.execute("DELETE FROM digests WHERE channel = ?", (channel,)).rowcount > 0

    def claim(self, digest: Digest) -> bool:
        """Take the digest for sending; False when another process has it (or it changed since it was read)."""
        now = self.clock()
        with self._conn() as conn:
            return conn.execute(
                """UPDATE digests SET claimed_at = ? WHERE channel = ? AND last_due = ? AND set_at = ?
                   AND (claimed_at IS NULL OR claimed_at < ?)""",
                (now.isoformat(), digest.channel, digest.last_due, digest.set_at, (now - CLAIM_TIMEOUT).isoformat()),
            ).rowcount == 1

    def done(self, digest: Digest, due: datetime, seq: int) -> None:
        """The digest due at `due` is handled (sent, skipped as empty, or skipped for good); it covered arrivals up to `seq`."""
        with self._conn() as conn:
            conn.execute(
                "UPDATE digests SET last_due = ?, last_seq = ?, claimed_at = NULL WHERE channel = ? AND set_at = ?",
                (due.isoformat(), seq, digest.channel, digest.set_at),
            )

    def release(self, digest: Digest) -> None:
        """Give a claimed digest back after a passing failure, so a later look retries it."""
        with self._conn() as conn:
            conn.execute("UPDATE digests SET claimed_at = NULL WHERE channel = ? AND set_at = ?", (digest.channel, digest.set_at))


def _digest(row: tuple) -> Digest:
    channel, cadence, weekday, at_time, zone, topic, skip_empty, set_by, set_at, last_due, last_seq, claimed_at = row
    return Digest(channel, cadence, weekday, at_time, zone, topic, bool(skip_empty), set_by, set_at, last_due, last_seq,
                  claimed_at)
