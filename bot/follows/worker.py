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
from bot.follows.store import Follow, FollowStore, OwedPost, Story, same_question
from bot.slack.blocks import escape, shorten
from bot.slack.replies import NO_PREVIEWS, PERMANENT_ERRORS, slack_error
from bot.state.scopes import Scopes
from index import DEFAULT_RANKING, Context, Evidence, FilterError, Index, SearchResult

log = logging.getLogger("newsbot.follows")

# Posting errors after which a follow can never post where it is (until someone acts): it is paused.
PAUSING_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived", "channel_is_archived"})

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
# sentences). RealTimeQA 2022 (docs/benchmarks.md "Follows"): +2 against +0, precision 0.321 -> 0.348 on the 80
# questions the lexical rule was tuned on (recall 0.536 -> 0.532) and 0.263 -> 0.305 on 60 held out (recall
# 0.545 both). A follow's search is one of few new articles, in the background: every answer it may post is read.
FOLLOW_READING = 2.0
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
        self._searched: dict[tuple, SearchResult] = {}

    def tick(self) -> None:
        """Match new arrivals, then post owed stories."""
        if not self.index.exists():
            return
        last = self.index.last_arrival()
        self._searched.clear()  # one search per distinct question, scope and batch in a tick
        self._each(self.match, [f for f in self.store.all() if f.seen < last and not f.paused])
        self._each(self.post, [f for f in self.store.all() if not f.paused])
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
        return find_stories(self.index, follow, articles, self.scopes.filters(follow.channel), searched=self._searched)

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
                outcome = self._send(post)
                sent += outcome == "posted"
                if outcome == "paused":  # the channel refuses every post: the rest wait for `/news resume`
                    return sent
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

    def _send(self, post: OwedPost) -> str:
        """Post one claimed story: "posted", "failed" (kept for later, or dropped for good) or "paused"."""
        try:
            self.client.chat_postMessage(channel=post.follow.channel, **post.message, **NO_PREVIEWS)
        except (SlackApiError, OSError) as exc:
            reason = slack_error(exc)
            permanent = reason in PERMANENT_ERRORS
            log.warning("follow #%d: could not post a story (%s)%s", post.follow.id, reason,
                        "; dropped" if permanent else "; will retry")
            self.store.mark(post, "failed" if permanent else "owed")
            if reason in PAUSING_ERRORS:
                self._pause(post.follow, reason)
                return "paused"
            return "failed"
        self.store.mark(post, "posted")
        return "posted"

    def _pause(self, follow: Follow, reason: str) -> None:
        """Stop a follow its channel refuses, and tell its creator once, in a DM, how to start it again."""
        if not self.store.pause(follow.id, reason) or not follow.created_by:
            return  # paused before (told then), or nobody to tell
        text = (f":pause_button: Newsbot stopped posting follow #{follow.id} "
                f"“{escape(shorten(follow.question, 200))}” in <#{follow.channel}>: Slack answered `{reason}`. "
                f"Invite Newsbot there (`/invite @Newsbot`), then send `/news resume {follow.id}` in that channel.")
        try:
            opened = self.client.conversations_open(users=follow.created_by)
            self.client.chat_postMessage(channel=opened["channel"]["id"], text=text, **NO_PREVIEWS)
        except (SlackApiError, OSError, KeyError, TypeError) as exc:
            log.warning("follow #%d: paused (%s); could not tell its creator: %s", follow.id, reason, slack_error(exc))


def worth_posting(evidence: Evidence | None, reading_floor: float = FOLLOW_READING, read: bool = False) -> bool:
    """Whether an answer is news for a follow (or a digest topic): it answers, it is about the follow's words, and
    the reader reads it as answering. `read`: the search was read (the reader on and not busy), so an answer it
    did not read (folded up from past its depth) is not posted on the ranking's word alone."""
    if evidence is None or not evidence.answerable() or evidence.lexical < FOLLOW_LEXICAL:
        return False
    if evidence.best_reading is None:
        return not read
    return evidence.best_reading >= reading_floor


def was_read(result: SearchResult) -> bool:
    """Whether the reader read this search's best answers (it may be off, unavailable or busy)."""
    return result.evidence is not None and result.evidence.best_reading is not None


def find_stories(
    index: Index,
    follow: Follow,
    articles: frozenset[str],
    scope: str = "",
    reading_floor: float = FOLLOW_READING,
    searched: dict[tuple, SearchResult] | None = None,
) -> list[Story]:
    """The stories among `articles` that answer the follow, one per lead article, best first.

    The question pipeline restricted to `articles`, with its abstention; then each answer must pass
    the evidence floors on its own, since a rank is no evidence (the 30th answer of a batch is).
    """
    try:
        key = (same_question(follow.question), scope, articles)
        result = searched.get(key) if searched is not None else None
        if result is None:  # follows of one question in several channels share the search (`searched`)
            context = Context(scope=scope, articles=articles)
            result = index.search(follow.question, k=MAX_STORIES, ranking=FOLLOW_RANKING, context=context)
            if searched is not None:
                searched[key] = result
    except FilterError as exc:  # a scope changed since the follow was made; the follow itself was checked
        log.warning("follow #%d cannot be matched: %s", follow.id, exc)
        return []
    stories: dict[str, Story] = {}
    read = was_read(result)
    for answer in [] if result.abstained else result.answers:
        if not worth_posting(answer.evidence, reading_floor, read) or answer.article.id in stories:
            continue
        also = tuple(a.id for a in answer.also_in if a.id != answer.article.id)
        stories[answer.article.id] = Story(answer.article.id, also, follow_blocks.story_message(follow, answer), answer.score)
    return list(stories.values())
