"""Where state beside the index lives (followed feeds; the bot's channel scopes, follows, digests, feedback):
the index folder's SQLite, or the shared PostgreSQL database when `NEWSBOT_DATABASE_URL` is set, so every
process on every machine sees the same. Stores write portable SQL (`?` placeholders, ON CONFLICT,
RETURNING) against a `StateConnection`; each engine's `state` module implements it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class StateConnection(Protocol):
    """One connection; each statement commits on its own unless inside `write()`."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (`?` placeholders); a cursor with fetchone, fetchall, rowcount and iteration."""

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def write(self) -> AbstractContextManager[None]:
        """A write transaction that holds the store's write lock from its first statement, so what it checks
        and changes is one step for every process; rolled back on an exception."""


class StateDatabase(Protocol):
    """Opens connections to the bot's state, its tables in place."""

    def connection(
        self, sqlite_schema: str, sqlite_upgrade: Callable[[sqlite3.Connection], None] | None = None
    ) -> AbstractContextManager[StateConnection]:
        """A short-lived connection; on SQLite the store's `CREATE … IF NOT EXISTS` schema (and `sqlite_upgrade`,
        for tables an older newsbot wrote) is applied first. PostgreSQL's tables come from its migrations."""
