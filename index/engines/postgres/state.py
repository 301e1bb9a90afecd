"""State beside the index in the shared PostgreSQL database (`NEWSBOT_DATABASE_URL`): every process on every
machine sees the same feeds, scopes, follows, digests and feedback. The tables come from `postgres`'s migrations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from index.engines.postgres.database import connect, require_current

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


class PostgresState:
    """`StateDatabase` in PostgreSQL; the schema must be current (`newsbot db upgrade`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._checked = False

    @contextmanager
    def connection(self, sqlite_schema: str, sqlite_upgrade=None) -> Iterator[PostgresStateConnection]:
        with connect(self.url) as conn:
            if not self._checked:
                require_current(conn)
                self._checked = True
            yield PostgresStateConnection(conn)
