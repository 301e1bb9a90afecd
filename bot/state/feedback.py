"""Store 👍/👎 votes on answers in the state database's `feedback` table (`Index.state`), to learn which answers help."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.state.schema import BOT_SCHEMA
from index import Index, now_iso

VOTES = ("up", "down")


def record_feedback(
    index: Index, user: str | None, question: str, passages: Sequence[Sequence[object]], vote: str
) -> None:
    """Save one vote with the question, the passages shown ([article id, start, end] each), user and time."""
    if vote not in VOTES:
        raise ValueError(f"vote must be one of {VOTES}, got {vote!r}")
    with index.state.connection(BOT_SCHEMA) as conn:
        conn.execute(  # one statement in autocommit mode: atomic on its own
            'INSERT INTO feedback(created_at, "user", question, passages, vote) VALUES (?, ?, ?, ?, ?)',
            (now_iso(), user, question, json.dumps(passages, ensure_ascii=False), vote),
        )
