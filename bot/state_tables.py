"""Bot state kept in the index's SQLite database (channel scopes, follows, digests): one connection per
call, the store's tables created on its first use, so every bot process of one index shares them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from index import Index


class StateTables:
    """A store whose `SCHEMA` (CREATE … IF NOT EXISTS statements) lives in the index database."""

    SCHEMA = ""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._ready = False

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection (autocommit) with the store's tables in place."""
        conn = self.index.store.connect()
        try:
            if not self._ready:
                conn.executescript(self.SCHEMA)
                self._ready = True
            yield conn
        finally:
            conn.close()
