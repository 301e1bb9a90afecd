"""State beside the index in the index folder's SQLite database: every process of one folder shares it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from index.engines.folder.store import Store


class SqliteStateConnection:
    """A `StateConnection` over an autocommit SQLite connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params=()):
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows) -> None:
        self.conn.executemany(sql, rows)

    @contextmanager
    def write(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")  # the write lock now, not at the first write
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")


class SqliteState:
    """`StateDatabase` in the index's SQLite database; each store's schema is made on its first use."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._ready: set[str] = set()

    @contextmanager
    def connection(
        self, sqlite_schema: str, sqlite_upgrade: Callable[[sqlite3.Connection], None] | None = None
    ) -> Iterator[SqliteStateConnection]:
        conn = self.store.connect()
        try:
            if sqlite_schema not in self._ready:
                conn.executescript(sqlite_schema)
                if sqlite_upgrade:
                    sqlite_upgrade(conn)
                self._ready.add(sqlite_schema)
            yield SqliteStateConnection(conn)
        finally:
            conn.close()
