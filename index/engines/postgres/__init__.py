"""The PostgreSQL engine: the index and the state beside it in one database (pgvector for vectors, BM25 from
postings), so bot processes on several machines share it (`NEWSBOT_DATABASE_URL`)."""

from __future__ import annotations

from index.database_url import shown_database_url
from index.engines import Engine
from index.engines.postgres.reader import PgReader
from index.engines.postgres.state import PostgresState
from index.engines.postgres.writer import PgWriter


def open_database(url: str) -> Engine:
    """The engine over the PostgreSQL database at `url` (connections are opened when first needed)."""
    return Engine(PgReader(url), PgWriter(url), PostgresState(url), shown_database_url(url))
