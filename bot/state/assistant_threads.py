"""The assistant pane's threads: which DM threads are Newsbot assistant threads, and the channel each is viewed
beside (Slack's `assistant_thread.context`), in the state database so every bot process sees them.

bolt's default store keeps the context in the metadata of the bot's first reply and reads it back with
`conversations.replies` on every message; this one is a row per thread, read without calling Slack. It also
tells an assistant thread from an ordinary threaded DM, which bolt's `Assistant` matches alike.
"""

from __future__ import annotations

import json
import time

from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.store import AssistantThreadContextStore

from bot.state.tables import StateTables

CONTEXT_KEYS = ("channel_id", "team_id", "enterprise_id")  # what Slack's context holds; nothing else is kept
MAX_ID_CHARS = 40  # Slack ids are about 11 characters; anything longer is not one


def clean_context(context: object) -> dict[str, str]:
    """Slack's thread context reduced to its known keys with short string values (the payload is untrusted)."""
    if not isinstance(context, dict):
        return {}
    return {k: v for k in CONTEXT_KEYS if isinstance(v := context.get(k), str) and 0 < len(v) <= MAX_ID_CHARS}


class AssistantThreads(StateTables, AssistantThreadContextStore):
    """bolt's thread context store over the `assistant_threads` table (rows are never needed again after a thread
    goes quiet, and are small: they are kept)."""

    def started(self, channel_id: str, thread_ts: str, user_id: str | None, context: object) -> None:
        """Record a new assistant thread (`assistant_thread_started`), with the channel it was opened beside."""
        self._write(channel_id, thread_ts, user_id, clean_context(context))

    def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        """The context changed (`assistant_thread_context_changed`): the user opened another channel."""
        self._write(channel_id, thread_ts, None, clean_context(context))

    def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        """The thread's context, or None for a thread that is not a known assistant thread (or has no channel)."""
        context = self.context(channel_id, thread_ts)
        return AssistantThreadContext(context) if context and context.get("channel_id") else None

    def context(self, channel_id: str, thread_ts: str) -> dict[str, str] | None:
        """The stored context ({} when opened beside no channel); None when the thread is not an assistant thread."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT context FROM assistant_threads WHERE channel_id = ? AND thread_ts = ?", (channel_id, thread_ts)
            ).fetchone()
        if row is None:
            return None
        try:
            return clean_context(json.loads(row[0]))
        except ValueError:
            return {}

    def take_title(self, channel_id: str, thread_ts: str) -> bool:
        """True once per thread: the first question gives the thread its title."""
        with self._conn() as conn:
            return conn.execute(
                "UPDATE assistant_threads SET titled = TRUE WHERE channel_id = ? AND thread_ts = ? AND NOT titled",
                (channel_id, thread_ts),
            ).rowcount > 0

    def _write(self, channel_id: str, thread_ts: str, user_id: str | None, context: dict[str, str]) -> None:
        with self._conn() as conn:
            conn.execute(
                """INSERT INTO assistant_threads(channel_id, thread_ts, user_id, context, updated_at)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (channel_id, thread_ts) DO UPDATE SET context = excluded.context,
                   updated_at = excluded.updated_at,
                   user_id = COALESCE(excluded.user_id, assistant_threads.user_id)""",
                (channel_id, thread_ts, user_id, json.dumps(context), time.time()),
            )
