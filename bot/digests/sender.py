"""Send the digests that are due: the stories of the articles indexed since the last digest, at most
`MAX_STORIES`, each quoted by its lead sentence with its sources linked; one line when nothing is new."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.digests.blocks import digest_message
from bot.digests.store import Digest, DigestStore
from bot.follows.worker import was_read, worth_posting
from bot.slack.replies import NO_PREVIEWS, PERMANENT_ERRORS, slack_error
from bot.state.scopes import Scopes
from index import DEFAULT_RANKING, Context, FilterError, Index, Story
from index.questions import read_scope

log = logging.getLogger("newsbot.digests")

MAX_STORIES = 10
MAX_ARRIVALS = 1_000_000  # arrivals read for one digest (ids only)
MAX_ARTICLES = 5_000  # the newest of them grouped into stories (grouping compares each with every story)
RETRY_AFTER = 300.0  # seconds before a digest that failed to post is tried again
TOPIC_ANSWERS = 100  # answers a topic search may keep as the digest's articles
TOPIC_RANKING = replace(DEFAULT_RANKING, rerank=TOPIC_ANSWERS)  # each read (a few seconds, once a digest)


class DigestSender:
    """Looks for due digests and sends each once (see `digests` for how processes agree)."""

    def __init__(self, index: Index, store: DigestStore, scopes: Scopes, client: WebClient,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.index = index
        self.store = store
        self.scopes = scopes
        self.client = client
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._waiting: dict[str, float] = {}  # channel -> monotonic time before which a failed digest is not retried

    def tick(self) -> int:
        """Send every digest due now; how many were sent (or skipped as empty, by the channel's choice)."""
        if not self.index.exists():
            return 0
        sent = 0
        now = self.clock()
        for digest in self.store.all():
            due = digest.due(now)
            if due is None or self._waiting.get(digest.channel, 0.0) > time.monotonic() or not self.store.claim(digest):
                continue
            try:
                sent += self.send(digest, due)
            except Exception:
                log.exception("the digest for %s failed; it will be tried again in %.0f s", digest.channel, RETRY_AFTER)
                self._retry_later(digest)
        return sent

    def send(self, digest: Digest, due: datetime) -> bool:
        """Build and post one claimed digest; False when skipped (nothing new and the channel chose so) or not sent."""
        arrivals = self.index.arrivals(after=digest.last_seq, limit=MAX_ARRIVALS)
        covered = arrivals[-1][0] if arrivals else digest.last_seq
        articles = self._articles(digest, {article for _, article in arrivals[-MAX_ARTICLES:]})
        scope = self.scopes.filters(digest.channel)
        stories = self._stories(articles, scope) if articles else []
        if not stories and digest.skip_empty:
            self.store.done(digest, due, covered)
            log.info("digest for %s: nothing new, skipped as the channel chose", digest.channel)
            return False
        message = digest_message(digest, stories, len(articles), due)
        try:
            self.client.chat_postMessage(channel=digest.channel, **message, **NO_PREVIEWS)
        except (SlackApiError, OSError) as exc:
            reason = slack_error(exc)
            if reason in PERMANENT_ERRORS:  # this slot is skipped; its articles wait for the next digest
                log.warning("digest for %s skipped: Slack refused it (%s)", digest.channel, reason)
                self.store.done(digest, due, digest.last_seq)
            else:
                log.warning("could not post the digest in %s (%s); will retry in %.0f s", digest.channel, reason, RETRY_AFTER)
                self._retry_later(digest)
            return False
        self.store.done(digest, due, covered)
        self._waiting.pop(digest.channel, None)
        log.info("digest for %s: %d stories from %d new articles", digest.channel, len(stories), len(articles))
        return True

    def _retry_later(self, digest: Digest) -> None:
        """Give the claim back, and leave this digest alone for `RETRY_AFTER` seconds (it is rebuilt each try)."""
        self.store.release(digest)
        self._waiting[digest.channel] = time.monotonic() + RETRY_AFTER

    def _articles(self, digest: Digest, arrived: set[str]) -> set[str]:
        """The new articles the digest reports: all of them, or those answering its topic."""
        if not digest.topic or not arrived:
            return arrived
        context = Context(scope=self.scopes.filters(digest.channel), articles=frozenset(arrived))
        try:
            result = self.index.search(digest.topic, k=TOPIC_ANSWERS, ranking=TOPIC_RANKING, context=context)
        except FilterError as exc:
            log.warning("the digest topic of %s cannot be searched: %s", digest.channel, exc)
            return set()
        if result.abstained:
            return set()
        keep, read = set(), was_read(result)
        for answer in result.answers:
            if worth_posting(answer.evidence, read=read):
                keep |= {answer.article.id, *(a.id for a in answer.also_in)}
        return keep

    def _stories(self, articles: set[str], scope: str) -> list[Story]:
        try:
            filters = read_scope(scope)
        except FilterError:
            filters = None
        return self.index.stories(articles, MAX_STORIES, filters or None)
