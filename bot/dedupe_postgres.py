"""Event claims in PostgreSQL (`NEWSBOT_DATABASE_URL`): bot processes on several machines answer an event once."""

from __future__ import annotations

from index.engines.postgres.database import connect, require_current

from .dedupe import KEEP_SECONDS, LEASE_SECONDS


class PostgresEventClaims:
    """`EventClaims` in a shared PostgreSQL database; times are the server's, so machines' clocks need not agree."""

    def __init__(self, url: str, lease_seconds: float = LEASE_SECONDS, keep_seconds: float = KEEP_SECONDS) -> None:
        self.url = url
        self.lease = lease_seconds
        self.keep = keep_seconds
        with connect(url) as conn:
            require_current(conn)

    def claim(self, event_id: str | None) -> bool:
        """True if this process should answer: nobody claimed the event, or a claim was left unfinished past the lease."""
        if not event_id:
            return True
        with connect(self.url) as conn, conn.transaction():
            conn.execute("DELETE FROM event_claims WHERE claimed_at < now() - make_interval(secs => %s)", (self.keep,))
            row = conn.execute(
                """INSERT INTO event_claims (event_id, claimed_at) VALUES (%s, now())
                   ON CONFLICT (event_id) DO UPDATE SET claimed_at = excluded.claimed_at
                   WHERE NOT event_claims.answered AND event_claims.claimed_at < now() - make_interval(secs => %s)
                   RETURNING event_id""",
                (event_id, self.lease),
            ).fetchone()
        return row is not None

    def finish(self, event_id: str | None, answered: bool) -> None:
        """Mark the claim answered, or drop it so Slack's re-delivery can try again."""
        if not event_id:
            return
        with connect(self.url) as conn:
            if answered:
                conn.execute("UPDATE event_claims SET answered = true WHERE event_id = %s", (event_id,))
            else:
                conn.execute("DELETE FROM event_claims WHERE event_id = %s AND NOT answered", (event_id,))
