"""A failure of the folder's SQLite database under a command (a full disk, a broken or unwritable file), said in
one line. SQLite rolls a failed write back, so the index is as it was before the command."""

from __future__ import annotations

import sqlite3
from pathlib import Path

ERRORS: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)


def explain(exc: BaseException, directory: Path) -> str:
    """The one line for `exc` (one of `ERRORS`) raised while using the index folder `directory`."""
    kept = "the index is unchanged"
    if "database or disk is full" in str(exc) or "disk I/O error" in str(exc):
        return f"cannot write the index in {directory}: {exc} (is the disk full?); {kept}"
    return f"the index database in {directory} failed: {exc}; {kept}"
