"""RSS/Atom feeds whose new items are added like `newsbot add`: the feed list, its conditional-GET
validators and the items already handled live in the index database, next to the articles.

feedparser only ever sees the fetched bytes (a file object): handed a string or bytes, it would
take a body such as `/etc/passwd` for a file name or URL and open it. A poll handles at most
NEWSBOT_FEED_MAX_ITEMS new items, oldest first, and records them batch by batch, so a huge feed
cannot hold a poll for hours and a poll killed midway resumes where it stopped. An item that keeps
failing for a passing reason is given up after MAX_TRIES polls, so old broken links cannot use up
the cap of every poll and keep newer items waiting for ever.
"""

from __future__ import annotations

import io
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import feedparser

from index import Index, Migration, Schema, StateConnection, now_iso
from index.settings import number_env
from intake.adding import NOT_TRIED, AddResult, Hint, add_urls, unexpected
from intake.fetch import Fetched, FetchError, FetchSettings, fetch, redact

DEFAULT_MAX_ITEMS = 50  # new items handled per feed and poll; the rest wait for the next poll
BATCH_ITEMS = 10  # items added (one index update) and remembered together: a killed poll redoes at most these
MAX_TRIES = 3  # polls an item failing for a passing reason (timeout, 5xx, DNS) is tried in before it is given up

# Columns added to feed_items since its first version; rows written before were all handled for good.
ITEM_COLUMNS = {"tries": "INTEGER NOT NULL DEFAULT 0", "done": "INTEGER NOT NULL DEFAULT 1"}


def _item_columns(conn: sqlite3.Connection) -> None:
    """Add the columns a feed_items table written by an older newsbot lacks."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(feed_items)")}
    for name in ITEM_COLUMNS:
        if name not in have:
            conn.execute(f"ALTER TABLE feed_items ADD COLUMN {name} {ITEM_COLUMNS[name]}")


# The feeds followed and the items each has handled. IF NOT EXISTS: a folder or database from before versioned
# parts has these tables already.
FEEDS_SCHEMA = Schema(
    "feeds",
    sqlite=(
        Migration(
            1,
            "feeds",
            """CREATE TABLE IF NOT EXISTS feeds (
                   url TEXT PRIMARY KEY,
                   title TEXT,
                   etag TEXT,
                   modified TEXT,
                   added_at TEXT NOT NULL,
                   polled_at TEXT,
                   error TEXT
               );
               CREATE TABLE IF NOT EXISTS feed_items (
                   feed_url TEXT NOT NULL,
                   key TEXT NOT NULL,
                   seen_at TEXT NOT NULL,
                   tries INTEGER NOT NULL DEFAULT 0,
                   done INTEGER NOT NULL DEFAULT 1,
                   PRIMARY KEY (feed_url, key)
               ) WITHOUT ROWID;""",
            run=_item_columns,
        ),
    ),
    postgres=(
        Migration(
            1,
            "feeds",
            """CREATE TABLE IF NOT EXISTS feeds (
                   url text PRIMARY KEY,
                   title text,
                   etag text,
                   modified text,
                   added_at text NOT NULL,
                   polled_at text,
                   error text
               );
               CREATE TABLE IF NOT EXISTS feed_items (
                   feed_url text NOT NULL,
                   key text NOT NULL,
                   seen_at text NOT NULL,
                   tries integer NOT NULL DEFAULT 0,
                   done integer NOT NULL DEFAULT 1,
                   PRIMARY KEY (feed_url, key)
               );""",
        ),
    ),
)

log = logging.getLogger("newsbot.feeds")


@dataclass
class Feed:
    """A followed feed and what its last poll left behind."""

    url: str
    title: str | None
    added_at: str
    polled_at: str | None
    error: str | None
    items: int


@dataclass
class Item:
    """One feed entry: its de-duplication key (guid, else link), its page, and hints for that page."""

    key: str
    link: str | None
    hint: Hint


@dataclass
class PollResult:
    """What one feed's poll did: not modified, new items added (per item), or the feed's error."""

    url: str
    title: str | None = None
    not_modified: bool = False
    error: str | None = None
    added: list[AddResult] = field(default_factory=list)
    waiting: int = 0  # new items left for the next poll (over the per-poll cap, or stopping)
    given_up: int = 0  # items that failed for a passing reason in MAX_TRIES polls, not tried again

    def line(self) -> str:
        """One line for the terminal or the watcher's log."""
        url = redact(self.url)
        name = f"“{self.title}” ({url})" if self.title else url
        if self.error:
            return f"feed {name}: {self.error}"
        if self.not_modified:
            return f"feed {name}: not modified"
        if not self.added:
            waiting = f"{self.waiting:,} new items wait for the next poll"
            return f"feed {name}: {waiting if self.waiting else 'no new items'}"
        added = sum(r.ok for r in self.added)
        dupes = sum(r.duplicate for r in self.added)
        failed = len(self.added) - added - dupes
        line = f"feed {name}: {len(self.added)} new items: {added} added, {dupes} already indexed, {failed} not added"
        if self.given_up:
            line += f" ({self.given_up} given up after {MAX_TRIES} tries)"
        return f"{line}; {self.waiting:,} more wait for the next poll" if self.waiting else line


class FeedError(Exception):
    """A feed cannot be followed or read; the message is one line for the user."""


@contextmanager
def _transaction(index: Index) -> Iterator[StateConnection]:
    """A connection to the state database (the index folder's SQLite or the shared PostgreSQL) with the feed
    tables, inside one committed transaction."""
    with index.state.connection(FEEDS_SCHEMA) as conn, conn.write():
        yield conn


def _date(entry: dict) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return time.strftime("%Y-%m-%d", parsed) if parsed else None


def read_feed(
    url: str, settings: FetchSettings, etag: str | None = None, modified: str | None = None
) -> tuple[feedparser.FeedParserDict | None, Fetched]:
    """Fetch and parse a feed; None when the server says it is not modified since `etag`/`modified`."""
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    page = fetch(url, settings, accept=None, headers=headers)
    if page.status == 304:
        return None, page
    # A file object: given str or bytes, feedparser opens a body that looks like a path or URL.
    headers_seen = {"content-type": page.headers.get("Content-Type", "")}
    parsed = feedparser.parse(io.BytesIO(page.body), response_headers=headers_seen)
    if not parsed.version:
        raise FetchError(f"not an RSS or Atom feed (the server sent {page.content_type or 'no content type'})")
    return parsed, page


def items_of(parsed: feedparser.FeedParserDict) -> list[Item]:
    """The feed's entries as items, oldest first, keyed by guid or else link."""
    items = []
    for entry in reversed(parsed.entries):
        link = entry.get("link")
        key = entry.get("id") or link
        if key:
            items.append(Item(key, link, Hint(entry.get("title"), _date(entry))))
    return items


def add_feed(index: Index, url: str, settings: FetchSettings | None = None) -> Feed:
    """Follow a feed after checking that it is one; its current items are added at the next poll."""
    settings = settings or FetchSettings.from_env()
    try:
        parsed, page = read_feed(url, settings)
    except FetchError as exc:
        raise FeedError(f"cannot follow {redact(url)}: {exc}") from None
    title = (parsed.feed.get("title") or "").strip() or None
    with _transaction(index) as conn:
        conn.execute(
            "INSERT INTO feeds(url, title, added_at) VALUES (?, ?, ?) ON CONFLICT(url) DO UPDATE SET title=excluded.title",
            (url, title, now_iso()),
        )
    return next(f for f in list_feeds(index) if f.url == url)


def remove_feed(index: Index, url: str) -> bool:
    """Stop following a feed (its articles stay); False if it was not followed."""
    with _transaction(index) as conn:
        conn.execute("DELETE FROM feed_items WHERE feed_url=?", (url,))
        removed = conn.execute("DELETE FROM feeds WHERE url=?", (url,)).rowcount
    return bool(removed)


def list_feeds(index: Index) -> list[Feed]:
    """The followed feeds, in the order they were added."""
    with _transaction(index) as conn:
        rows = conn.execute(
            """SELECT f.url, f.title, f.added_at, f.polled_at, f.error,
                      (SELECT count(*) FROM feed_items i WHERE i.feed_url = f.url AND i.done = 1)
               FROM feeds f ORDER BY f.added_at, f.url"""
        ).fetchall()
    return [Feed(*row) for row in rows]


def max_items_from_env() -> int:
    """NEWSBOT_FEED_MAX_ITEMS: how many new items one poll handles per feed (default 50)."""
    return int(number_env("NEWSBOT_FEED_MAX_ITEMS", DEFAULT_MAX_ITEMS))


def poll_feeds(
    index: Index,
    settings: FetchSettings | None = None,
    stop: threading.Event | None = None,
    max_items: int | None = None,
) -> list[PollResult]:
    """Poll every followed feed once (until `stop` is set); one feed's failure never stops the others.

    `max_items` new items at most per feed (default NEWSBOT_FEED_MAX_ITEMS); the rest wait.
    """
    settings = settings or FetchSettings.from_env()
    max_items = max_items or max_items_from_env()
    results = []
    for feed in list_feeds(index):
        if stop is not None and stop.is_set():
            break
        try:
            results.append(poll_feed(index, feed.url, settings, stop, max_items))
        except Exception as exc:
            results.append(_failed(index, feed, exc))
    return results


def _failed(index: Index, feed: Feed, exc: Exception) -> PollResult:
    """Log an unexpected poll failure with its traceback, and record it as the feed's error."""
    log.exception("polling the feed %s failed unexpectedly", feed.url)
    result = PollResult(feed.url, title=feed.title, error=unexpected(exc))
    try:
        _record(index, feed.url, error=result.error)
    except Exception:
        log.exception("recording the error of the feed %s failed", feed.url)
    return result


def poll_feed(
    index: Index,
    url: str,
    settings: FetchSettings,
    stop: threading.Event | None = None,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> PollResult:
    """Fetch one feed conditionally and add up to `max_items` of its items not seen before, oldest first.

    Items are added `BATCH_ITEMS` at a time, and each batch is remembered as soon as it is indexed.
    An item is remembered once it was added, found already indexed, or failed for good; an item
    that failed for a passing reason (timeout, server error) is tried again at the next polls, up to
    MAX_TRIES in all, then given up; one not fetched because `stop` was set is tried again. While items wait (over the cap, or to be tried again) the validators are not
    stored, so the next poll re-reads the feed instead of hearing "not modified".
    """
    with _transaction(index) as conn:
        row = conn.execute("SELECT title, etag, modified FROM feeds WHERE url=?", (url,)).fetchone()
    if row is None:
        return PollResult(url, error="not followed")
    result = PollResult(url, title=row[0])
    try:
        parsed, page = read_feed(url, settings, etag=row[1], modified=row[2])
    except FetchError as exc:
        result.error = str(exc)
        _record(index, url, error=result.error)
        return result
    if parsed is None:
        result.not_modified = True
        _record(index, url)
        return result
    result.title = (parsed.feed.get("title") or "").strip() or row[0]
    with _transaction(index) as conn:
        seen = {key for (key,) in conn.execute("SELECT key FROM feed_items WHERE feed_url=? AND done = 1", (url,))}
    new = [item for item in items_of(parsed) if item.key not in seen]
    todo, result.waiting = new[:max_items], max(0, len(new) - max_items)
    retry = False
    for start in range(0, len(todo), BATCH_ITEMS):
        if stop is not None and stop.is_set():
            result.waiting += len(todo) - start
            break
        added, done, failed, waiting = _add_batch(index, todo[start : start + BATCH_ITEMS], settings, stop)
        result.added += added
        result.waiting += waiting
        result.given_up += _count_tries(index, url, failed)
        retry = retry or any(r.transient for r in added)
        _remember(index, url, done)
    validators = (None, None) if retry or result.waiting else (page.headers.get("ETag"), page.headers.get("Last-Modified"))
    _record(index, url, validators=validators, title=result.title)
    return result


def _add_batch(
    index: Index, items: list[Item], settings: FetchSettings, stop: threading.Event | None
) -> tuple[list[AddResult], list[str], list[str], int]:
    """Add a batch of items: (the results, the keys handled for good, the keys that failed for a passing
    reason, how many were not tried)."""
    linked = [item for item in items if item.link]
    hints = {item.link: item.hint for item in linked}
    results = add_urls(index, [item.link for item in linked], settings, hints, stop=stop) if linked else []
    retry = {r.url for r in results if r.transient}
    tried = [r for r in results if r.reason != NOT_TRIED]
    failed_urls = {r.url for r in tried if r.transient}
    done = [item.key for item in items if item.link is None or item.link.strip() not in retry]
    failed = [item.key for item in items if item.link is not None and item.link.strip() in failed_urls]
    return tried, done, failed, len(results) - len(tried)


def _remember(index: Index, url: str, keys: list[str]) -> None:
    """Remember these items of the feed as handled, so neither this poll's rest nor the next one redoes them."""
    stamp = now_iso()
    with _transaction(index) as conn:
        conn.executemany(
            """INSERT INTO feed_items(feed_url, key, seen_at) VALUES (?, ?, ?)
               ON CONFLICT(feed_url, key) DO UPDATE SET done=1, seen_at=excluded.seen_at""",
            [(url, key, stamp) for key in keys],
        )


def _count_tries(index: Index, url: str, keys: list[str]) -> int:
    """Count one more failed try for each of these items; those at MAX_TRIES are given up. Returns how many."""
    if not keys:
        return 0
    stamp, marks = now_iso(), ",".join("?" * len(keys))
    with _transaction(index) as conn:
        conn.executemany(
            """INSERT INTO feed_items(feed_url, key, seen_at, tries, done) VALUES (?, ?, ?, 1, CASE WHEN 1 >= ? THEN 1 ELSE 0 END)
               ON CONFLICT(feed_url, key) DO UPDATE SET tries=feed_items.tries + 1,
               done=CASE WHEN feed_items.tries + 1 >= ? THEN 1 ELSE 0 END, seen_at=excluded.seen_at""",
            [(url, key, stamp, MAX_TRIES, MAX_TRIES) for key in keys],
        )
        query = f"SELECT count(*) FROM feed_items WHERE feed_url=? AND done = 1 AND key IN ({marks})"
        return conn.execute(query, (url, *keys)).fetchone()[0]


def _record(
    index: Index,
    url: str,
    validators: tuple[str | None, str | None] | None = None,
    title: str | None = None,
    error: str | None = None,
) -> None:
    """Store a poll's outcome: the validators for the next conditional GET, the title, the error."""
    with _transaction(index) as conn:
        conn.execute("UPDATE feeds SET polled_at=?, error=? WHERE url=?", (now_iso(), error, url))
        if validators is not None:
            conn.execute("UPDATE feeds SET etag=?, modified=? WHERE url=?", (*validators, url))
        if title:
            conn.execute("UPDATE feeds SET title=? WHERE url=?", (title, url))
