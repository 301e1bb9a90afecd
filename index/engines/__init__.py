"""Where the index is stored: the engines and the protocols they implement.

`folder` (SQLite + FAISS + bm25s in the index folder) and `postgres` (PostgreSQL + pgvector) each implement
`snapshot.Reader`, `writer.Writer` and `state.StateDatabase`; they share only those protocol modules, `common`
and `stored`, and never import each other. `open_engine` is the one place that chooses between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from index.engines.snapshot import Reader
from index.engines.state import StateDatabase
from index.engines.writer import Writer


@dataclass(frozen=True)
class Engine:
    """One engine's reader, writer and state database, and how messages name where the index lives."""

    reader: Reader
    writer: Writer
    state: StateDatabase
    where: str  # "the index folder .newsbot", or the database URL without its password


def storage_errors() -> tuple[type[BaseException], ...]:
    """What an engine raises when the storage under it fails mid-command (PostgreSQL's are `DatabaseError`s)."""
    from index.engines.folder.failures import ERRORS

    return ERRORS


def storage_problem(exc: BaseException, directory: Path) -> str:
    """One line for one of `storage_errors()`, naming the index folder `directory`."""
    from index.engines.folder.failures import explain

    return explain(exc, directory)


def open_engine(directory: Path, database_url: str | None) -> Engine:
    """PostgreSQL when `database_url` names one (`NEWSBOT_DATABASE_URL`), else the index folder `directory`."""
    if database_url:
        from index.engines.postgres import open_database

        return open_database(database_url)
    from index.engines.folder import open_folder

    return open_folder(directory)
