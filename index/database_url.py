"""NEWSBOT_DATABASE_URL: what it must look like, and what of it may be shown (never the password)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit, urlunsplit


def shown_database_url(url: str) -> str:
    """The URL without its password (in the user part or a `password=` parameter), for messages and logs."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        user = parts.username
    except ValueError:  # not even a URL: show nothing of it
        return "the database URL"
    netloc = f"{user}:***@{host}" if "@" in parts.netloc and parts.password is not None else parts.netloc
    if "@" in parts.netloc and parts.password is None:
        netloc = f"{user}@{host}" if user else host
    query = "&".join(
        f"{key}=***" if key.lower() == "password" else f"{key}={value}" for key, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def check_database_url(url: str) -> str:
    """`url` if it names a PostgreSQL database, else a `ValueError` saying what is expected."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise ValueError(f"NEWSBOT_DATABASE_URL must start with postgresql://, got {shown_database_url(url)!r}")
    return url


def password_in(url: str) -> str | None:
    """The password in `url` (user part or parameter), to keep it out of messages."""
    try:
        parts = urlsplit(url)
        found = parts.password or dict(parse_qsl(parts.query)).get("password")
    except ValueError:
        return None
    return found or None
