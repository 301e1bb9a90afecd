"""State beside the index in the shared PostgreSQL database (`NEWSBOT_DATABASE_URL`): every process on every
machine sees the same feeds, scopes, follows, digests and feedback. Each part's tables come from its own
`Schema`, upgraded by the first process that needs them (`schema.upgrade`, under its advisory lock)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from index.engines.postgres.connection import connect
from index.engines.postgres.schema import INDEX, MIGRATIONS, upgrade, versions
from index.engines.state import Migration, PartsBroughtUp, Schema

STATE_LOCK = 0x6E657773626F76  # the advisory lock a state write transaction holds
_PLACEHOLDER = re.compile(r"\?")


def _pg(sql: str) -> str:
    """The stores' `?` placeholders as psycopg's `%s` (their SQL holds no other `?` or `%`)."""
    return _PLACEHOLDER.sub("%s", sql)


class PostgresStateConnection:
    """A `StateConnection` over an autocommit psycopg connection."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def execute(self, sql: str, params=()):
        return self.conn.execute(_pg(sql), tuple(params))

    def executemany(self, sql: str, rows) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_pg(sql), [tuple(row) for row in rows])

    @contextmanager
    def write(self) -> Iterator[None]:
        with self.conn.transaction():
            # Read what the writer before committed (whatever the server's default isolation), then take turns
            # as SQLite's BEGIN IMMEDIATE makes writers do (the volume is tiny).
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (STATE_LOCK,))
            yield


@dataclass
class PostgresState(PartsBroughtUp):
    """`StateDatabase` in PostgreSQL; safe to share between threads."""

    url: str

    @contextmanager
    def connection(self, schema: Schema) -> Iterator[PostgresStateConnection]:
        with connect(self.url) as conn:
            self._bring_up(conn, schema)
            yield PostgresStateConnection(conn)

    def _apply(self, conn, schema: Schema) -> None:
        if versions(conn).get(schema.part, 0) != schema.postgres[-1].version:  # else no lock to wait for
            upgrade(self.url, [(schema.part, schema.postgres)])

    def upgrade(self, schemas: Sequence[Schema]) -> list[tuple[str, Migration]]:
        return upgrade(self.url, [(INDEX, MIGRATIONS), *((s.part, s.postgres) for s in schemas)])

    def versions(self, schemas: Sequence[Schema]) -> list[tuple[str, int, int]]:
        with connect(self.url) as conn:
            found = versions(conn)
        parts = [(INDEX, MIGRATIONS), *((s.part, s.postgres) for s in schemas)]
        return [(part, found.get(part, 0), migrations[-1].version) for part, migrations in parts]
