"""The running bot's follow loop: match each follow against newly arrived articles, then post what is owed.

Any update (`newsbot watch` in another process, `/news add`, feeds, reindex) notes its new articles in
the index (`Index.arrivals`); this loop reads them every few seconds. Matching uses the question
pipeline restricted to the new articles, with its abstention, and each posted story must pass the
evidence floors on its own. At most `cap` stories per follow per hour; the rest of a burst is one
summary line (and if a summary already went out this hour, they wait for the next hour).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.follows import blocks as follow_blocks
from bot.follows.store import Follow, FollowStore, OwedPost, Story
from bot.slack.replies import NO_PREVIEWS, PERMANENT_ERRORS, slack_error
from bot.state.scopes import Scopes
from index import DEFAULT_RANKING, Context, Evidence, FilterError, Index

log = logging.getLogger("newsbot.follows")

DEFAULT_CAP = 5  # stories per follow per hour (NEWSBOT_FOLLOW_POSTS_PER_HOUR)
DEFAULT_INTERVAL = 10.0  # seconds between looks at the arrivals (NEWSBOT_FOLLOW_INTERVAL)
BATCH = 1000  # arrivals matched per follow per search
PRUNE_EVERY = 3600.0  # seconds between clean-ups of old handled posts
MAX_STORIES = 30  # answers a search may turn into stories for one batch
# A follow is told about a story, unasked, only when it is clearly about what was followed: besides the
# answer floors, one sentence holds half the follow's rare-word weight. On RealTimeQA 2022 (80 questions
# as follows, weekly updates) this cut posts from 47.5 to 3.9 per follow-year and raised precision from
# 0.05 to 0.37 at recall 0.47 (docs/benchmarks.md).
FOLLOW_LEXICAL = 0.5
# And the reader reads the answer as one that answers the follow (its logit for the passage or one of its
# sentences; RealTimeQA 2022, docs/benchmarks.md "Follows"). A follow's search is one of few new articles,
# in the background: every answer it may post is read.
FOLLOW_READING = 0.0
FOLLOW_RANKING = replace(DEFAULT_RANKING, rerank=MAX_STORIES)


class FollowWorker:
    """Matches and posts for every follow of the index; one per bot process (claims keep processes apart)."""

    def __init__(
        self,
        index: Index,
        store: FollowStore,
        scopes: Scopes,
        client: WebClient,
        cap: int = DEFAULT_CAP,
    ) -> None:
        self.index = index
        self.store = store
        self.scopes = scopes
        self.client = client
        self.cap = cap
        self.stopping = threading.Event()  # set to end a tick between follows (at shutdown)
        self._pruned = float("-inf")

    def tick(self) -> None:
        """Match new arrivals, then post owed stories."""
        if not self.index.exists():
            return
        last = self.index.last_arrival()
        self._each(self.match, [f for f in self.store.all() if f.seen < last])
        self._each(self.post, self.store.all())
        if time.monotonic() - self._pruned > PRUNE_EVERY:
            self.store.prune()
            self._pruned = time.monotonic()

    def _each(self, step, follows: list[Follow]) -> None:
        """`step` for every follow; one follow's failure (a locked database, a bad scope) does not hold up the rest."""
        for follow in follows:
            if self.stopping.is_set():
                return
            try:
                step(follow)
            except Exception:
                log.exception("follow #%d: %s failed; trying again on the next look", follow.id, step.__name__)

    # --- matching -----------------------------------------------------------------------------------------

    def match(self, follow: Follow) -> int:
        """Match the follow against the next batch of arrivals and owe the stories found; how many."""
        batch = self.index.arrivals(after=follow.seen, limit=BATCH)  # removed articles included: the bound is exact
        if not batch:
            return 0
        stories = self.stories(follow, frozenset(article for _, article in batch))
        owed = self.store.record(follow, batch[-1][0], stories)
        if owed:
            log.info("follow #%d: %d new stories in %d new articles", follow.id, owed, len(batch))
        return owed

    def stories(self, follow: Follow, articles: frozenset[str]) -> list[Story]:
        """The new stories among `articles` that answer the follow (within its channel's scope)."""
        return find_stories(self.index, follow, articles, self.scopes.filters(follow.channel))

    # --- posting ------------------------------------------------------------------------------------------

    def post(self, follow: Follow) -> int:
        """Post the follow's owed stories within the hourly cap, then one summary line for the rest; how many posted."""
        sent, full = 0, False
        for post in self.store.owed(follow):
            claim = self.store.claim(post, self.cap)
            if claim == "full":
                full = True  # this hour's posts are spent: the rest goes into one summary line
                break
            if claim == "claimed":
                sent += self._send(post)
        if not full:
            return sent
        taken = self.store.summarise(follow)
        if taken:
            try:
                message = follow_blocks.summary_message(follow, len(taken))
                self.client.chat_postMessage(channel=follow.channel, **message, **NO_PREVIEWS)
            except (SlackApiError, OSError) as exc:
                log.warning("follow #%d: could not post the summary line: %s", follow.id, slack_error(exc))
                for post in taken:
                    self.store.mark(post, "owed")
        return sent

    def _send(self, post: OwedPost) -> bool:
        """Post one claimed story; whether it was posted."""
        try:
            self.client.chat_postMessage(channel=post.follow.channel, **post.message, **NO_PREVIEWS)
        except (SlackApiError, OSError) as exc:
            reason = slack_error(exc)
            permanent = reason in PERMANENT_ERRORS
            log.warning("follow #%d: could not post a story (%s)%s", post.follow.id, reason,
                        "; dropped" if permanent else "; will retry")
            self.store.mark(post, "failed" if permanent else "owed")
            return False
        self.store.mark(post, "posted")
        return True


def worth_posting(evidence: Evidence | None, reading_floor: float = FOLLOW_READING) -> bool:
    """Whether an answer is news for a follow (or a digest topic): it answers, it is about the follow's words, and
    the reader (when on) reads it as answering."""
    if evidence is None or not evidence.answerable() or evidence.lexical < FOLLOW_LEXICAL:
        return False
    return evidence.reading is None or max(evidence.reading, evidence.sentence_reading or evidence.reading) >= reading_floor


def find_stories(
    index: Index, follow: Follow, articles: frozenset[str], scope: str = "", reading_floor: float = FOLLOW_READING
) -> list[Story]:
    """The stories among `articles` that answer the follow, one per lead article, best first.

    The question pipeline restricted to `articles`, with its abstention; then each answer must pass
    the evidence floors on its own, since a rank is no evidence (the 30th answer of a batch is).
    """
    try:
        context = Context(scope=scope, articles=articles)
        result = index.search(follow.question, k=MAX_STORIES, ranking=FOLLOW_RANKING, context=context)
    except FilterError as exc:  # a scope changed since the follow was made; the follow itself was checked
        log.warning("follow #%d cannot be matched: %s", follow.id, exc)
        return []
    stories: dict[str, Story] = {}
    for answer in [] if result.abstained else result.answers:
        if not worth_posting(answer.evidence, reading_floor) or answer.article.id in stories:
            continue
        also = tuple(a.id for a in answer.also_in if a.id != answer.article.id)
        stories[answer.article.id] = Story(answer.article.id, also, follow_blocks.story_message(follow, answer), answer.score)
    return list(stories.values())
