"""Event claims in the state database beside the index (`schema`): every bot process sharing the index, on one
machine (the folder's SQLite) or several (PostgreSQL), answers an event once."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.slack.dedupe import KEEP_SECONDS, LEASE_SECONDS
from bot.state.tables import StateTables
from index import Index


class SharedEventClaims(StateTables):
    """`EventClaims` shared by every process of one index; times are each process's clock (seconds since the
    epoch): the lease allows for what NTP leaves between machines."""

    def __init__(
        self, index: Index, lease_seconds: float = LEASE_SECONDS, keep_seconds: float = KEEP_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(index)
        self.lease = lease_seconds
        self.keep = keep_seconds
        self.clock = clock

    def claim(self, event_id: str | None) -> bool:
        """True if this process should answer: nobody claimed the event, or a claim was left unfinished past the lease."""
        if not event_id:
            return True
        now = self.clock()
        with self._conn() as conn, conn.write():
            conn.execute("DELETE FROM event_claims WHERE claimed_at < ?", (now - self.keep,))
            row = conn.execute(
                """INSERT INTO event_claims(event_id, claimed_at) VALUES (?, ?)
                   ON CONFLICT(event_id) DO UPDATE SET claimed_at = excluded.claimed_at
                   WHERE NOT event_claims.answered AND event_claims.claimed_at < ?
                   RETURNING event_id""",
                (event_id, now, now - self.lease),
            ).fetchone()
        return row is not None

    def finish(self, event_id: str | None, answered: bool) -> None:
        """Mark the claim answered, or drop it so Slack's re-delivery can try again."""
        if not event_id:
            return
        with self._conn() as conn:
            if answered:
                conn.execute("UPDATE event_claims SET answered = TRUE WHERE event_id = ?", (event_id,))
            else:
                conn.execute("DELETE FROM event_claims WHERE event_id = ? AND NOT answered", (event_id,))
