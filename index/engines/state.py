"""State beside the index (followed feeds; the bot's channel scopes, follows, digests, feedback) in the
engine's own database: the index folder's SQLite, or the shared PostgreSQL database, so every process that
shares the index sees the same. Stores write portable SQL (`?` placeholders, ON CONFLICT, RETURNING) against a
`StateConnection`; each engine's `state` module implements `StateDatabase`.

Each part that keeps tables (the index itself, intake's feeds, the bot) owns a `Schema`: its migrations for
each engine, numbered from 1, applied in order and recorded per part, so a part changes its tables without
touching anyone else's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Migration:
    """One step of a part's tables on one engine: its number (applied once, in order), name and SQL.

    `run`, when given, is called with the engine's raw connection after `sql`, inside the same transaction,
    for a step SQL alone cannot say (a column added only where an older newsbot did not add it).
    """

    version: int
    name: str
    sql: str = ""
    run: Callable[[Any], None] | None = None
    vacuum: bool = False  # SQLite: give the freed pages back to the file system once the step is committed


@dataclass(frozen=True)
class Schema:
    """A part's tables as migrations per engine; `part` names it where versions are recorded."""

    part: str
    sqlite: tuple[Migration, ...]
    postgres: tuple[Migration, ...]


class StateConnection(Protocol):
    """One connection; each statement commits on its own unless inside `write()`."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (`?` placeholders); a cursor with fetchone, fetchall, rowcount and iteration."""

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def write(self) -> AbstractContextManager[None]:
        """A write transaction that holds the store's write lock from its first statement, so what it checks
        and changes is one step for every process; rolled back on an exception."""


class StateDatabase(Protocol):
    """The engine's database, seen by the parts that keep state beside the index."""

    def connection(self, schema: Schema) -> AbstractContextManager[StateConnection]:
        """A short-lived connection; `schema`'s missing migrations are applied first (once per process)."""

    def upgrade(self, schemas: Sequence[Schema]) -> list[tuple[str, Migration]]:
        """Bring the index's own tables and these parts' up to date now (safe from several processes at once);
        the (part, step) applied. A part newer than this newsbot is refused with one line."""

    def versions(self, schemas: Sequence[Schema]) -> list[tuple[str, int, int]]:
        """(part, version in the database, this newsbot's latest) of the index's own tables and these parts."""


@dataclass
class PartsBroughtUp:
    """What a `StateDatabase` shares: it brings each part's tables up to date the first time this process opens
    them (`_apply`, the engine's), and then trusts them."""

    _current: set[str] = field(default_factory=set, init=False, repr=False)  # parts at this newsbot's version

    def _bring_up(self, conn: Any, schema: Schema) -> None:
        if schema.part not in self._current:
            self._apply(conn, schema)
            self._current.add(schema.part)

    def _apply(self, conn: Any, schema: Schema) -> None:
        raise NotImplementedError


def pending(migrations: Sequence[Migration], current: int, part: str) -> list[Migration]:
    """The migrations after `current`; a `ValueError` when the database is newer than this newsbot knows."""
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise ValueError(f"the {part} tables are at version {current}, newer than this newsbot's {latest}: upgrade newsbot")
    return [m for m in migrations if m.version > current]
