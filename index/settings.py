"""Index settings read from the environment (the CLI loads `.env` first), with safe defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_MAX_ARTICLE_BYTES = 5_000_000


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def number_env(name: str, default: float, kind: type[int] | type[float] = int) -> float:
    """A positive number from the environment (`kind` int or float), else `default`; errors name the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a {'whole ' if kind is int else ''}number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be more than 0, got {raw!r}")
    return value


def flag_env(name: str) -> bool:
    """A yes/no setting: 1/true/yes or 0/false/no (unset is no); anything else is an error naming it."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise SettingsError(f"{name} must be 1 or 0, got {raw!r}")


def switch_env(name: str, default: bool) -> bool:
    """An on/off setting: on/1/true/yes or off/0/false/no, any case (unset: `default`); else an error naming it."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "1", "true", "yes"):
        return True
    if raw in ("off", "0", "false", "no"):
        return False
    raise SettingsError(f"{name} must be on or off, got {raw[:40]!r}")


DEFAULT_BACKEND = "auto"  # passages with torch, questions with the same model on ONNX Runtime


@dataclass(frozen=True)
class Settings:
    """Where the index lives, where articles come from, and how they are processed."""

    index_dir: Path
    articles_dir: Path
    model: str = DEFAULT_MODEL
    max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES
    public_url: str | None = None
    embedding_backend: str = DEFAULT_BACKEND  # auto, torch, onnx or onnx-int8 (NEWSBOT_EMBEDDING_BACKEND)
    # postgresql://… shared by every bot process (NEWSBOT_DATABASE_URL); None: the index folder's SQLite.
    database_url: str | None = field(default=None, repr=False)  # may hold a password: never in a repr
    # The reader (a cross-encoder) reorders the best candidates and picks the bold sentence (NEWSBOT_READER=on|off).
    reader: bool = True

    @classmethod
    def from_env(cls) -> "Settings":
        """Build settings from `NEWSBOT_*` variables; relative paths are taken from the working directory."""
        public_url = os.environ.get("NEWSBOT_PUBLIC_URL", "").strip() or None
        if public_url and not public_url.startswith(("http://", "https://")):
            raise SettingsError(f"NEWSBOT_PUBLIC_URL must start with http:// or https://, got {public_url!r}")
        return cls(
            index_dir=Path(os.environ.get("NEWSBOT_INDEX_DIR", "").strip() or ".newsbot"),
            articles_dir=Path(os.environ.get("NEWSBOT_ARTICLES_DIR", "").strip() or "seeds"),
            model=os.environ.get("NEWSBOT_EMBEDDING_MODEL", "").strip() or DEFAULT_MODEL,
            max_article_bytes=int(number_env("NEWSBOT_MAX_ARTICLE_BYTES", DEFAULT_MAX_ARTICLE_BYTES)),
            public_url=public_url.rstrip("/") if public_url else None,
            embedding_backend=_backend(),
            database_url=_database_url(),
            reader=switch_env("NEWSBOT_READER", default=True),
        )


def _backend() -> str:
    """NEWSBOT_EMBEDDING_BACKEND, checked: how the model runs (the index records it with the model)."""
    raw = os.environ.get("NEWSBOT_EMBEDDING_BACKEND", "").strip().lower() or DEFAULT_BACKEND
    if raw not in ("auto", "torch", "onnx", "onnx-int8"):
        raise SettingsError(f"NEWSBOT_EMBEDDING_BACKEND must be auto, torch, onnx or onnx-int8, got {raw!r}")
    return raw


def _database_url() -> str | None:
    """NEWSBOT_DATABASE_URL, checked to name a PostgreSQL database (its password never shown)."""
    from index.database_url import check_database_url

    raw = os.environ.get("NEWSBOT_DATABASE_URL", "").strip()
    if not raw:
        return None
    try:
        return check_database_url(raw)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
