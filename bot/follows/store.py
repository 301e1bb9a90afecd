"""Follows (saved questions) and the posts they owe, kept in the state database (`Index.state`).

Every process of one index sees the same follows. A match is written down as owed *before* it is
posted, in the same transaction that moves the follow past the arrivals it has read, so a crash or a
restart loses no match, and a second process never matches the same arrivals again. Each (follow,
article) pair is stored at most once: an article is never posted twice for one follow.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bot.config import FollowLimits
from bot.state.tables import StateTables
from index import Index

COLUMNS = "id, channel, question, created_by, created_at, seen, paused"

POSTING_TIMEOUT = timedelta(minutes=10)  # a claim older than this is from a process that died mid-post
KEEP_DONE = timedelta(days=30)  # how long handled posts are kept (each arrival is matched once anyway)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Follow:
    """A saved question and where its matches go."""

    id: int
    channel: str
    question: str
    created_by: str | None
    created_at: str
    seen: int
    paused: str | None = None  # why posting here stopped (`pause`), until `resume`


class FollowRefused(ValueError):
    """A follow that cannot be made (a cap, or the same question followed here); the message is the reply."""


def same_question(question: str) -> str:
    """What two follows of one question share: case and spacing aside."""
    return " ".join(question.casefold().split())


@dataclass(frozen=True)
class Story:
    """One new story a follow matched: its lead article, the others folded into it, the message, a score."""

    article_id: str
    also_in: tuple[str, ...]
    message: dict
    score: float


@dataclass(frozen=True)
class OwedPost:
    """A story recorded for posting."""

    follow: Follow
    article_id: str
    message: dict


class FollowStore(StateTables):
    """Follows and owed posts in the state database; safe to use from several threads and processes."""


    def __init__(self, index: Index, clock: Callable[[], datetime] = _now) -> None:
        super().__init__(index)
        self.clock = clock

    # --- follows ----------------------------------------------------------------------------------------

    def add(self, channel: str, question: str, user: str | None, limits: FollowLimits = FollowLimits()) -> Follow:
        """Follow `question` in `channel` from now on: only articles arriving after this moment match.

        One write transaction checks and inserts, so follows sent at once cannot pass a cap together: at most
        `limits.per_channel` in a conversation and `limits.per_user` by one person in all; the same question twice
        in a conversation is refused too (`FollowRefused`, whose message names the follow that has it).
        """
        per_channel, per_user = limits.per_channel, limits.per_user
        with self._conn() as conn, conn.write():
            here = conn.execute("SELECT id, question FROM follows WHERE channel = ? ORDER BY id", (channel,)).fetchall()
            same = next((number for number, asked in here if same_question(asked) == same_question(question)), None)
            if same is not None:
                raise FollowRefused(f"This conversation already follows that question as #{same}.")
            if len(here) >= per_channel:
                raise FollowRefused(f"This conversation already follows {per_channel} questions; "
                                    "`/news unfollow <number>` one first.")
            if user is not None:
                mine = conn.execute("SELECT count(*) FROM follows WHERE created_by = ?", (user,)).fetchone()[0]
                if mine >= per_user:
                    raise FollowRefused(f"You already follow {per_user} questions in all conversations; "
                                        "`/news unfollow <number>` one of yours first.")
            created = _iso(self.clock())
            seen = self.index.last_arrival()
            number = conn.execute(
                "INSERT INTO follows(channel, question, created_by, created_at, seen) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (channel, question, user, created, seen),
            ).fetchone()[0]
            return Follow(number, channel, question, user, created, seen)

    def pause(self, follow_id: int, reason: str) -> bool:
        """Stop matching and posting for a follow whose channel refuses posts; True only for the call that paused it."""
        with self._conn() as conn:
            return conn.execute(
                "UPDATE follows SET paused = ? WHERE id = ? AND paused IS NULL", (reason, follow_id)
            ).rowcount == 1

    def resume(self, follow_id: int) -> bool:
        """Match and post again; whether it was paused."""
        with self._conn() as conn:
            return conn.execute("UPDATE follows SET paused = NULL WHERE id = ? AND paused IS NOT NULL", (follow_id,)).rowcount == 1

    def get(self, follow_id: int) -> Follow | None:
        with self._conn() as conn:
            row = conn.execute(f"SELECT {COLUMNS} FROM follows WHERE id = ?", (follow_id,)).fetchone()
        return Follow(*row) if row else None

    def in_channel(self, channel: str) -> list[Follow]:
        with self._conn() as conn:
            rows = conn.execute(f"SELECT {COLUMNS} FROM follows WHERE channel = ? ORDER BY id", (channel,)).fetchall()
        return [Follow(*row) for row in rows]

    def all(self) -> list[Follow]:
        with self._conn() as conn:
            return [Follow(*row) for row in conn.execute(f"SELECT {COLUMNS} FROM follows ORDER BY id")]

    def remove(self, follow_id: int) -> bool:
        """End a follow and forget what it owes; whether it existed."""
        with self._conn() as conn, conn.write():
            conn.execute("DELETE FROM follow_posts WHERE follow_id = ?", (follow_id,))
            return conn.execute("DELETE FROM follows WHERE id = ?", (follow_id,)).rowcount > 0

    # --- matches ----------------------------------------------------------------------------------------

    def record(self, follow: Follow, read_up_to: int, stories: list[Story]) -> int:
        """Owe `stories` and move the follow past arrival `read_up_to`, in one transaction.

        Nothing happens when another process has moved the follow meanwhile (it recorded the same
        arrivals) or the follow was removed. Returns how many stories are newly owed; a story whose
        article this follow already posted or folded is not owed again.
        """
        with self._conn() as conn, conn.write():
            row = conn.execute("SELECT seen FROM follows WHERE id = ?", (follow.id,)).fetchone()
            if row is None or row[0] != follow.seen:
                return 0
            owed = 0
            created = _iso(self.clock())
            for story in stories:
                owed += conn.execute(
                    "INSERT INTO follow_posts(follow_id, article_id, state, story, score, created_at)"
                    " VALUES (?, ?, 'owed', ?, ?, ?) ON CONFLICT DO NOTHING",
                    (follow.id, story.article_id, json.dumps(story.message, ensure_ascii=False), story.score, created),
                ).rowcount
                conn.executemany(
                    "INSERT INTO follow_posts(follow_id, article_id, state, created_at) VALUES (?, ?, 'folded', ?)"
                    " ON CONFLICT DO NOTHING",
                    [(follow.id, other, created) for other in story.also_in],
                )
            conn.execute("UPDATE follows SET seen = ? WHERE id = ?", (read_up_to, follow.id))
            return owed

    def owed(self, follow: Follow) -> list[OwedPost]:
        """The follow's owed stories, best first, including claims abandoned by a process that died."""
        stale = _iso(self.clock() - POSTING_TIMEOUT)
        with self._conn() as conn:
            rows = conn.execute(
                """SELECT article_id, story FROM follow_posts WHERE follow_id = ?
                   AND (state = 'owed' OR (state = 'posting' AND claimed_at < ?)) ORDER BY score DESC, created_at""",
                (follow.id, stale),
            ).fetchall()
        return [OwedPost(follow, article_id, json.loads(story)) for article_id, story in rows]

    def claim(self, post: OwedPost, cap: int) -> str:
        """Take an owed post for sending, if the follow has sent (or is sending) fewer than `cap` in the last hour.

        'claimed'; 'full' when the cap is reached; 'taken' when another process took the post first.
        """
        now = self.clock()
        with self._conn() as conn, conn.write():
            busy = conn.execute(
                """SELECT count(*) FROM follow_posts WHERE follow_id = ?
                   AND ((state = 'posted' AND posted_at >= ?) OR (state = 'posting' AND claimed_at >= ?))""",
                (post.follow.id, _iso(now - timedelta(hours=1)), _iso(now - POSTING_TIMEOUT)),
            ).fetchone()[0]
            if busy >= cap:
                return "full"
            claimed = conn.execute(
                """UPDATE follow_posts SET state = 'posting', claimed_at = ? WHERE follow_id = ? AND article_id = ?
                   AND (state = 'owed' OR (state = 'posting' AND claimed_at < ?))""",
                (_iso(now), post.follow.id, post.article_id, _iso(now - POSTING_TIMEOUT)),
            ).rowcount == 1
            return "claimed" if claimed else "taken"

    def summarise(self, follow: Follow) -> list[OwedPost]:
        """Take every owed post of the follow into one summary line, unless one went out in the last hour.

        The posts are marked 'summarised' at once (another process then sees the summary taken);
        `mark(post, 'owed')` gives them back if the line cannot be sent.
        """
        now = self.clock()
        with self._conn() as conn, conn.write():
            recent = conn.execute(
                "SELECT count(*) FROM follow_posts WHERE follow_id = ? AND state = 'summarised' AND posted_at >= ?",
                (follow.id, _iso(now - timedelta(hours=1))),
            ).fetchone()[0]
            if recent:
                return []
            rows = conn.execute(
                "SELECT article_id, story FROM follow_posts WHERE follow_id = ? AND state = 'owed'", (follow.id,)
            ).fetchall()
            conn.execute(
                "UPDATE follow_posts SET state = 'summarised', posted_at = ? WHERE follow_id = ? AND state = 'owed'",
                (_iso(now), follow.id),
            )
        return [OwedPost(follow, article_id, json.loads(story)) for article_id, story in rows]

    def mark(self, post: OwedPost, state: str) -> None:
        """After sending: 'posted'; 'owed' again when the send failed; 'summarised' when counted in a summary."""
        with self._conn() as conn:
            conn.execute(
                "UPDATE follow_posts SET state = ?, posted_at = ? WHERE follow_id = ? AND article_id = ?",
                (state, _iso(self.clock()), post.follow.id, post.article_id),
            )

    def prune(self, keep: timedelta = KEEP_DONE) -> int:
        """Forget posts handled longer ago than `keep` (their arrivals are never read again); how many went."""
        with self._conn() as conn:
            return conn.execute(
                "DELETE FROM follow_posts WHERE state NOT IN ('owed', 'posting') AND created_at < ?",
                (_iso(self.clock() - keep),),
            ).rowcount
