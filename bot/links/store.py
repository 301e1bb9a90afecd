"""Which channels have their shared links collected (`/news collect on`), and the queue of links waiting to be
fetched, in the state database: it survives a restart, and every `newsbot serve` process of one index shares it.

A link is queued once per (channel, message, url), so Slack's re-deliveries and an edited message that keeps
its link add nothing. A process claims links in a write transaction, so no two fetch the same link, nor the
same url from two messages at once; a claim older than `FETCH_TIMEOUT` was a process that died mid-fetch, and
the link is claimed again. Each channel is fetched at most `per_minute` links a minute; the rest wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import CollectLimits
from bot.state.tables import StateTables
from index import Index, now_iso

FETCH_TIMEOUT = 600.0  # seconds: a claim this old belongs to a process that died while fetching
KEEP_DONE = 30 * 86400.0  # seconds handled links are kept (a re-delivered event then adds nothing)
MAX_ATTEMPTS = 3  # a link whose fetch failed in a way that may pass is tried this many times in all
RETRY_AFTER = 120.0  # seconds before the second attempt; doubled for each one after


@dataclass(frozen=True)
class SharedLink:
    """A claimed link: where it was shared and how many attempts it has had (this one included)."""

    id: int
    channel: str
    message_ts: str
    url: str
    attempts: int


class CollectingChannels(StateTables):
    """The channels whose links are collected, who turned it on and when."""

    def get(self, channel: str | None) -> tuple[str | None, str] | None:
        """(set_by, set_at) when `channel` collects links, else None."""
        if not channel:
            return None
        with self._conn() as conn:
            row = conn.execute("SELECT set_by, set_at FROM collect_channels WHERE channel = ?", (channel,)).fetchone()
        return (row[0], row[1]) if row else None

    def set(self, channel: str, on: bool, user: str | None) -> bool:
        """Turn collecting on or off (off also drops the channel's links still waiting: an admin may turn it off
        because of what is being shared); whether that changed anything."""
        with self._conn() as conn, conn.write():
            if not on:
                conn.execute(
                    """UPDATE shared_links SET state = 'skipped', reason = 'collecting was turned off', done_at = ?
                       WHERE channel = ? AND state = 'queued'""",
                    (time.time(), channel),
                )
                return conn.execute("DELETE FROM collect_channels WHERE channel = ?", (channel,)).rowcount > 0
            return conn.execute(
                """INSERT INTO collect_channels(channel, set_by, set_at) VALUES (?, ?, ?)
                   ON CONFLICT (channel) DO NOTHING""",
                (channel, user, now_iso()),
            ).rowcount > 0

    def all(self) -> list[str]:
        """Every collecting channel, in id order."""
        with self._conn() as conn:
            return [row[0] for row in conn.execute("SELECT channel FROM collect_channels ORDER BY channel")]


class LinkQueue(StateTables):
    """Shared links waiting, being fetched, and done."""

    def __init__(
        self, index: Index, limits: CollectLimits = CollectLimits(), clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(index)
        self.limits = limits
        self.clock = clock

    def add(self, channel: str, message_ts: str, urls: list[str]) -> int:
        """Queue the links of one message; how many were new (the channel's queue full: none)."""
        now = self.clock()
        with self._conn() as conn, conn.write():
            waiting = conn.execute(
                "SELECT COUNT(*) FROM shared_links WHERE channel = ? AND state IN ('queued', 'fetching')", (channel,)
            ).fetchone()[0]
            room = max(0, self.limits.queued_per_channel - waiting)
            added = 0
            for url in urls[:room]:
                added += conn.execute(
                    """INSERT INTO shared_links(channel, message_ts, url, state, queued_at, not_before)
                       VALUES (?, ?, ?, 'queued', ?, ?) ON CONFLICT (channel, message_ts, url) DO NOTHING""",
                    (channel, message_ts, url, now, now),
                ).rowcount
        return added

    def claim(self, limit: int = 10) -> list[SharedLink]:
        """Up to `limit` links to fetch now, oldest first: within each channel's rate, none whose url another
        process is fetching, each url once."""
        now = self.clock()
        stale = now - FETCH_TIMEOUT
        with self._conn() as conn, conn.write():
            conn.execute("DELETE FROM shared_links WHERE state NOT IN ('queued', 'fetching') AND done_at < ?",
                         (now - KEEP_DONE,))
            # A fetch that never finished (the process died or hung on it) is tried again, but not forever: a
            # page that kills the process each time would otherwise be claimed every FETCH_TIMEOUT.
            conn.execute(
                """UPDATE shared_links SET state = 'failed', reason = 'the fetch never finished', done_at = ?
                   WHERE state = 'fetching' AND claimed_at < ? AND attempts >= ?""",
                (now, stale, MAX_ATTEMPTS),
            )
            busy = {row[0] for row in conn.execute(
                "SELECT url FROM shared_links WHERE state = 'fetching' AND claimed_at >= ?", (stale,))}
            recent: dict[str, int] = dict(conn.execute(
                "SELECT channel, COUNT(*) FROM shared_links WHERE claimed_at >= ? GROUP BY channel", (now - 60.0,)
            ).fetchall())
            rows = conn.execute(
                """SELECT id, channel, message_ts, url, attempts FROM shared_links
                   WHERE (state = 'queued' AND not_before <= ?) OR (state = 'fetching' AND claimed_at < ?)
                   ORDER BY id LIMIT ?""",
                (now, stale, max(limit * 20, 100)),
            ).fetchall()
            claimed: list[SharedLink] = []
            for link_id, channel, message_ts, url, attempts in rows:
                if len(claimed) >= limit or url in busy or recent.get(channel, 0) >= self.limits.per_minute:
                    continue
                conn.execute(
                    "UPDATE shared_links SET state = 'fetching', claimed_at = ?, attempts = attempts + 1 WHERE id = ?",
                    (now, link_id),
                )
                busy.add(url)
                recent[channel] = recent.get(channel, 0) + 1
                claimed.append(SharedLink(link_id, channel, message_ts, url, attempts + 1))
        return claimed

    def finish(self, link: SharedLink, state: str, reason: str | None = None) -> None:
        """Record the outcome: 'indexed', 'skipped' (not an article) or 'failed'."""
        with self._conn() as conn:
            conn.execute("UPDATE shared_links SET state = ?, reason = ?, done_at = ? WHERE id = ?",
                         (state, reason, self.clock(), link.id))

    def retry_later(self, link: SharedLink, reason: str) -> bool:
        """Put back a link whose fetch may work later (False, and marked failed, after `MAX_ATTEMPTS`)."""
        if link.attempts >= MAX_ATTEMPTS:
            self.finish(link, "failed", reason)
            return False
        wait = RETRY_AFTER * 2 ** (link.attempts - 1)
        with self._conn() as conn:
            conn.execute("UPDATE shared_links SET state = 'queued', reason = ?, not_before = ? WHERE id = ?",
                         (reason, self.clock() + wait, link.id))
        return True

    def release(self, link: SharedLink) -> None:
        """Put back a link this process claimed but did not try (it is stopping): the attempt does not count."""
        with self._conn() as conn:
            conn.execute("UPDATE shared_links SET state = 'queued', attempts = attempts - 1 WHERE id = ?", (link.id,))

    def counts(self, channel: str | None = None) -> dict[str, int]:
        """How many links are in each state (of one channel, or all)."""
        where, params = ("WHERE channel = ?", (channel,)) if channel else ("", ())
        with self._conn() as conn:
            rows = conn.execute(f"SELECT state, COUNT(*) FROM shared_links {where} GROUP BY state", params)
            return dict(rows.fetchall())
