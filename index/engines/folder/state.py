"""State beside the index in the index folder's SQLite database: every process of one folder shares it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from index.engines.folder.schema import LATEST, migrate, version
from index.engines.folder.store import Store
from index.engines.state import Migration, PartsBroughtUp, Schema


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


@dataclass
class SqliteState(PartsBroughtUp):
    """`StateDatabase` in the index's SQLite database; each part's migrations are applied on its first use."""

    store: Store

    @contextmanager
    def connection(self, schema: Schema) -> Iterator[SqliteStateConnection]:
        conn = self.store.connect()
        try:
            self._bring_up(conn, schema)
            yield SqliteStateConnection(conn)
        finally:
            conn.close()

    def _apply(self, conn: sqlite3.Connection, schema: Schema) -> None:
        migrate(conn, schema.sqlite, f"schema.{schema.part}")

    def upgrade(self, schemas: Sequence[Schema]) -> list[tuple[str, Migration]]:
        applied = []
        with self.store.connection() as conn:  # the index's own tables are brought up to date on connecting
            for schema in schemas:
                applied += [(schema.part, step) for step in migrate(conn, schema.sqlite, f"schema.{schema.part}")]
        return applied

    def versions(self, schemas: Sequence[Schema]) -> list[tuple[str, int, int]]:
        with self.store.connection() as conn:
            found = [("index", version(conn), LATEST)]
            return found + [(s.part, version(conn, f"schema.{s.part}"), s.sqlite[-1].version) for s in schemas]
