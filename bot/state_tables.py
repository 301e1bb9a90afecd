"""Bot state stores (channel scopes, follows, digests, feedback): one short-lived connection per call to
the state database (`state_db`), so every bot process sees the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from index import Index
from index.engines.state import StateConnection, StateDatabase


class StateTables:
    """A store whose SQLite `SCHEMA` (CREATE … IF NOT EXISTS statements) is made on first use; on PostgreSQL
    its tables come from the migrations."""

    SCHEMA = ""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._database: StateDatabase | None = None

    @contextmanager
    def _conn(self) -> Iterator[StateConnection]:
        """A short-lived connection (each statement commits unless inside `conn.write()`)."""
        if self._database is None:  # chosen on first use: where the index's settings say
            self._database = self.index.state
        with self._database.connection(self.SCHEMA) as conn:
            yield conn
