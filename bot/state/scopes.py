"""Channel scopes: default filters an admin sets for a channel (`/news scope source:reuters`), kept in the
state database (`Index.state`) so every bot process sees the same ones and a restart keeps them.

Every question asked in the channel is searched within its scope, together with its own filters.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.state.tables import StateTables
from index import now_iso
from index.questions import read_scope

MAX_SCOPE_CHARS = 500


@dataclass(frozen=True)
class Scope:
    """A channel's filters as written, who set them and when."""

    channel: str
    filters: str
    set_by: str | None
    set_at: str


class Scopes(StateTables):
    """Read and change channel scopes in the state database."""

    def get(self, channel: str | None) -> Scope | None:
        """The channel's scope, or None."""
        if not channel:
            return None
        with self._conn() as conn:
            row = conn.execute(
                "SELECT channel, filters, set_by, set_at FROM channel_scopes WHERE channel = ?", (channel,)
            ).fetchone()
        return Scope(*row) if row else None

    def filters(self, channel: str | None) -> str:
        """The channel's filters as written, or '' when it has no scope."""
        scope = self.get(channel)
        return scope.filters if scope else ""

    def set(self, channel: str, filters: str, user: str | None) -> Scope:
        """Set the channel's scope; `FilterError` (naming the problem) for anything but valid filters."""
        filters = " ".join(filters.split())
        if len(filters) > MAX_SCOPE_CHARS:  # cut, it could end mid-filter: refused, with the count
            raise ValueError(f"a scope holds at most {MAX_SCOPE_CHARS} characters; this one has {len(filters):,}")
        if not read_scope(filters):
            raise ValueError("a scope needs at least one filter")
        scope = Scope(channel, filters, user, now_iso())
        with self._conn() as conn:
            conn.execute(
                """INSERT INTO channel_scopes(channel, filters, set_by, set_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (channel) DO UPDATE SET filters = excluded.filters, set_by = excluded.set_by,
                   set_at = excluded.set_at""",
                (scope.channel, scope.filters, scope.set_by, scope.set_at),
            )
        return scope

    def clear(self, channel: str) -> bool:
        """Remove the channel's scope; whether it had one."""
        with self._conn() as conn:
            return conn.execute("DELETE FROM channel_scopes WHERE channel = ?", (channel,)).rowcount > 0
