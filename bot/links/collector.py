"""Fetch and index the links people shared in collecting channels, and mark each message that brought an article
with one reaction (:newspaper:) — no reply messages.

Each link goes through `/news add`'s own path (`intake.adding.add_urls`): the same SSRF guard, size and time
limits, and the same check that a page is not indexed already (an article shared twice is indexed once, and
both messages get the reaction). A page that is not an article gets no reaction; a fetch that may work later
is tried again (`LinkQueue.retry_later`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from urllib.parse import urlsplit

from slack_sdk import WebClient

from bot.links.store import LinkQueue, SharedLink
from bot.slack.replies import react
from index import Index
from index.settings import flag_env
from intake.adding import NOT_TRIED, AddResult, add_urls
from intake.fetch import FetchSettings, redact

log = logging.getLogger("newsbot.links")

INDEXED_REACTION = "newspaper"
BATCH = 10  # links fetched and indexed in one update
SLACK_HOSTS = ("slack.com", "slack-edge.com", "slack-files.com")  # permalinks and files: never a news article


def collecting_fetch_settings() -> FetchSettings:
    """`/news add`'s fetch settings, except that private addresses are refused unless
    NEWSBOT_COLLECT_PRIVATE_URLS=1: anyone in a collecting channel can share a link, so the intranet permission
    an admin gives `/news add` and feeds (NEWSBOT_ALLOW_PRIVATE_URLS) does not reach it."""
    return replace(FetchSettings.from_env(), allow_private=flag_env("NEWSBOT_COLLECT_PRIVATE_URLS"))


def worth_fetching(url: str, public_url: str | None) -> bool:
    """Not a Slack page, nor a page of Newsbot's own server (sharing an answer must not index the answer): host and
    port are compared, whatever the path, with http's and https's default ports as one (`http://` and `:443`
    forms of the public url are Newsbot's too; another port of the same host is another server)."""
    try:
        shared = _server(url)
        own = _server(public_url) if public_url else None
    except ValueError:  # a malformed address: the fetch refuses it in one line
        return True
    host = shared[0]
    if any(host == h or host.endswith("." + h) for h in SLACK_HOSTS):
        return False
    return own is None or shared != own


def _server(url: str) -> tuple[str, int | None]:
    """(host, port) of `url`; None for http's or https's default port."""
    parts = urlsplit(url)
    port = parts.port  # ValueError when out of range
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return (parts.hostname or "").lower().rstrip("."), None if port in (None, default) else port


class LinkCollector:
    """Drains the shared link queue; `tick` runs on the bot's scheduler in every process."""

    def __init__(
        self, index: Index, queue: LinkQueue, client: WebClient, settings: FetchSettings | None = None
    ) -> None:
        self.index = index
        self.queue = queue
        self.client = client
        self.settings = settings or collecting_fetch_settings()
        self.stopping = threading.Event()

    def tick(self) -> int:
        """Fetch and index what may be fetched now; how many links were handled."""
        handled = 0
        while not self.stopping.is_set():
            links = self.queue.claim(BATCH)
            if not links:
                return handled
            self._collect(links)
            handled += len(links)
        return handled

    def _collect(self, links: list[SharedLink]) -> None:
        """One batch: fetched and indexed in one update, each link's outcome recorded and its message marked."""
        public_url = self.index.settings.public_url
        wanted = [link for link in links if worth_fetching(link.url, public_url)]
        for link in links:
            if link not in wanted:
                self.queue.finish(link, "skipped", "a Slack or Newsbot page")
        if not wanted:
            return
        try:
            results = add_urls(self.index, [link.url for link in wanted], self.settings, stop=self.stopping)
        except Exception as exc:  # the queue must keep draining; these links are tried again later
            log.exception("collecting %d shared links failed", len(wanted))
            for link in wanted:
                self.queue.retry_later(link, f"unexpected error: {type(exc).__name__}")
            return
        by_url = dict(zip(dict.fromkeys(link.url.strip() for link in wanted), results, strict=True))  # in order, one per url
        for link in wanted:
            self._record(link, by_url.get(link.url.strip()))

    def _record(self, link: SharedLink, result: AddResult | None) -> None:
        shown = redact(link.url)
        if result is None or result.reason == NOT_TRIED:  # the process is stopping: another one (or the next) tries
            self.queue.release(link)
        elif result.ok or result.duplicate:
            self.queue.finish(link, "indexed")
            react(self.client, link.channel, link.message_ts, INDEXED_REACTION, add=True)
            log.info("collected %s from %s (%s)", shown, link.channel, "new" if result.ok else "already indexed")
        elif result.transient and self.queue.retry_later(link, result.reason or ""):
            log.info("will try %s again later: %s", shown, result.reason)
        else:
            self.queue.finish(link, "skipped" if not result.transient else "failed", result.reason)
            log.info("did not collect %s from %s: %s", shown, link.channel, result.reason)
