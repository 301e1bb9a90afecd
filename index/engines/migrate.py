"""Copy an index folder into PostgreSQL (`newsbot migrate --to URL`): articles, passages and their vectors exactly
as stored, so nothing is re-embedded; committed as one update, like any other.

The one module that uses both engines: it reads the folder's export and hands it to PostgreSQL's writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from index.database_url import shown_database_url
from index.engines.folder.export import export
from index.engines.folder.store import Store
from index.engines.postgres.writer import PgWriter
from index.errors import DatabaseError


@dataclass
class Migrated:
    """What was copied."""

    articles: int
    passages: int
    target: str

    def line(self) -> str:
        return f"copied {self.articles} articles and {self.passages} passages (no re-embedding) into {self.target}"


def migrate(folder: Path, url: str) -> Migrated:
    """Copy the committed index in the folder into the empty PostgreSQL database at `url`.

    `DatabaseError` when the folder holds no index, when vectors are missing from its cache, or when the
    database already holds an index (it is never overwritten).
    """
    change = export(Store(folder))
    writer = PgWriter(url)
    with writer.session(wait=0):
        if writer.state().generation:
            raise DatabaseError(f"{shown_database_url(url)} already holds an index; migrate into an empty database")
        count = writer.commit(change, progress=False)
    return Migrated(len(change.planned), count, shown_database_url(url))
