"""Connections to the PostgreSQL database (`NEWSBOT_DATABASE_URL`): a time limit, and errors without the password."""

from __future__ import annotations

from index.database_url import MAX_SHOWN_CHARS, redacted, shown_database_url
from index.errors import DatabaseError

CONNECT_TIMEOUT_SECONDS = 10


def connect(url: str):
    """An autocommit connection; `DatabaseError` (password left out) when the server cannot be reached."""
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = redacted(reason, url)  # libpq quotes what it could not parse, the password with it
        raise DatabaseError(f"cannot connect to {shown_database_url(url)}: {reason[:MAX_SHOWN_CHARS]}") from None
