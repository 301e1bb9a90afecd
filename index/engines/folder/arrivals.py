"""Which articles each committed update brought, in commit order: the feed follows are matched against.

Rows are written in the update's own transaction, so a reader sees the new articles and their arrival
together; `seq` only grows (AUTOINCREMENT never reuses a number), so "after seq N" never skips or repeats.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable


def new_ids(conn: sqlite3.Connection, article_ids: Iterable[str]) -> list[str]:
    """Those of `article_ids` not stored yet (call before the update inserts them)."""
    wanted = list(dict.fromkeys(article_ids))
    known = {
        row[0]
        for row in conn.execute("SELECT id FROM articles WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(wanted),))
    }
    return [a for a in wanted if a not in known]


def record(conn: sqlite3.Connection, article_ids: list[str], generation: int, stamp: str) -> None:
    """Note the arrival of `article_ids` with the update that commits them (inside its transaction)."""
    conn.executemany(
        "INSERT INTO arrivals(article_id, generation, arrived_at) VALUES (?, ?, ?)",
        [(article_id, generation, stamp) for article_id in article_ids],
    )


def since(conn: sqlite3.Connection, seq: int, limit: int) -> list[tuple[int, str]]:
    """Up to `limit` (seq, article id) arrivals after `seq`, oldest first.

    Articles removed since are included (a search simply does not find them), so the last seq read is
    always where the next read starts: nothing committed meanwhile is skipped.
    """
    return conn.execute("SELECT seq, article_id FROM arrivals WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)).fetchall()


def latest(conn: sqlite3.Connection) -> int:
    """The newest arrival's seq (0 when none)."""
    return conn.execute("SELECT coalesce(max(seq), 0) FROM arrivals").fetchone()[0]
