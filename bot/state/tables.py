"""Bot state stores (event claims, channel scopes, follows, digests, feedback): one short-lived connection per
call to the state database beside the index (`Index.state`), so every bot process sees the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.state.schema import BOT_SCHEMA
from index import Index, StateConnection


class StateTables:
    """A store over the bot's tables (`schema.BOT_SCHEMA`, brought up to date on first use)."""

    def __init__(self, index: Index) -> None:
        self.index = index

    @contextmanager
    def _conn(self) -> Iterator[StateConnection]:
        """A short-lived connection (each statement commits unless inside `conn.write()`)."""
        with self.index.state.connection(BOT_SCHEMA) as conn:
            yield conn
