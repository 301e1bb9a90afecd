"""Issue 10: a hostile feed server. Its body is parsed as a feed and nothing else; a huge feed is
handled a capped number of items per poll, and a poll killed midway resumes where it stopped.

Feeds and pages are served by a real HTTP server on 127.0.0.1; `newsbot feeds poll` runs as a real
process where it is killed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from conftest import PROXY_VARS, cli_env
from websites import Site, conditional_feed, numbered_story, rss

from index.engines.folder.store import Store
from intake.feeds import BATCH_ITEMS, MAX_TRIES, FeedError, add_feed, list_feeds, poll_feeds
from intake.fetch import FetchSettings

# Requests to 127.0.0.1 must never go through a proxy from the environment; `site` and `corpus`
# come from conftest.py.
pytestmark = pytest.mark.usefixtures("no_proxy")
LOCAL = FetchSettings(timeout=3, max_bytes=300_000, allow_private=True)


def numbered_feed(site: Site, prefix: str, count: int) -> tuple[list[tuple[str, str, str]], list[str]]:
    """`count` distinct article pages and the feed items linking them, newest first as feeds list them."""
    paths = [f"/{prefix}/{n}" for n in range(1, count + 1)]
    for n, path in enumerate(paths, 1):
        site.article(path, numbered_story(n))
    items = [(f"{prefix}-{n}", site.url(path), f"Bulletin {n}") for n, path in enumerate(paths, 1)]
    return items[::-1], paths


# --- the body is parsed, never opened as a file or URL ------------------------------------------------


def test_a_feed_body_that_names_a_local_file_is_not_opened(site, corpus, tmp_path):
    """feedparser given str/bytes opens what looks like a path: a file (here a real feed on disk,
    whose item must not be added), a FIFO (it would hang past the deadline), /dev/zero (memory)."""
    marker_page = site.article("/local/marker-item", numbered_story(900))
    marker = tmp_path / "local-feed.xml"
    marker.write_text(rss([("marker-1", marker_page, "Read from a local file")]))
    fifo = tmp_path / "feed.fifo"
    os.mkfifo(fifo)

    # the happy case: a real feed body is followed
    items, _ = numbered_feed(site, "real", 1)
    assert add_feed(corpus, site.serve("/real-feed.xml", rss(items), "application/rss+xml"), LOCAL).title == "Valley News"

    bodies = {"file": str(marker), "file-url": f"file://{marker}", "fifo": str(fifo), "zero": "/dev/zero", "url": marker_page}
    for name, body in bodies.items():
        url = site.serve(f"/names-{name}.xml", body, "application/rss+xml")
        started = time.monotonic()
        with pytest.raises(FeedError, match=r"not an RSS or Atom feed \(the server sent application/rss\+xml\)"):
            add_feed(corpus, url, LOCAL)
        assert time.monotonic() - started < LOCAL.timeout, name

    # a followed feed that turns hostile: its poll reports an error and adds nothing
    state = {"version": 1, "items": []}
    followed = conditional_feed(site, "/turns-hostile.xml", state)
    add_feed(corpus, followed, LOCAL)
    site.serve("/turns-hostile.xml", str(marker), "application/rss+xml")
    polled = {r.url: r for r in poll_feeds(corpus, LOCAL)}
    assert polled[followed].error.startswith("not an RSS or Atom feed") and polled[followed].added == []
    assert site.hits("/local/marker-item") == 0, "the local file's item was never added"
    assert [r.ok for r in polled[site.url("/real-feed.xml")].added] == [True]


def test_a_feed_cannot_pull_in_a_local_file_through_an_xml_entity(site, corpus, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-7d1f")
    page = site.article("/entity/page", numbered_story(901))
    feed = rss([("e-1", page, "Harbour &secret;")]).replace(
        '<?xml version="1.0"?>', f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY secret SYSTEM "file://{secret}">]>'
    )
    url = site.serve("/entity.xml", feed, "application/rss+xml")
    followed = add_feed(corpus, url, LOCAL)
    [result] = poll_feeds(corpus, LOCAL)
    assert [r.ok for r in result.added] == [True]
    assert "TOPSECRET" not in (followed.title or "") and "TOPSECRET" not in result.added[0].title


# --- a huge feed: a capped number of items per poll, progress kept as items are added -------------------


def test_a_poll_handles_at_most_the_cap_and_the_rest_wait_for_the_next_poll(site, corpus, monkeypatch):
    items, paths = numbered_feed(site, "capped", 7)
    url = conditional_feed(site, "/capped.xml", {"version": 1, "items": items})
    add_feed(corpus, url, LOCAL)
    monkeypatch.setenv("NEWSBOT_FEED_MAX_ITEMS", "3")

    [first] = poll_feeds(corpus, LOCAL)
    assert [r.ok for r in first.added] == [True, True, True] and first.waiting == 4
    assert first.line().endswith(": 3 new items: 3 added, 0 already indexed, 0 not added; 4 more wait for the next poll")
    assert [site.hits(p) for p in paths] == [1, 1, 1, 0, 0, 0, 0], "the oldest items first"

    [second] = poll_feeds(corpus, LOCAL)
    assert len(second.added) == 3 and second.waiting == 1, "items wait: the feed is read again, not 'not modified'"
    [third] = poll_feeds(corpus, LOCAL)
    assert len(third.added) == 1 and third.waiting == 0 and "wait" not in third.line()
    assert [site.hits(p) for p in paths] == [1] * 7 and list_feeds(corpus)[0].items == 7
    [fourth] = poll_feeds(corpus, LOCAL)
    assert fourth.not_modified, "with nothing left waiting, the validators are kept again"
    assert corpus.stats().articles == 2 + 7


def test_a_poll_killed_midway_resumes_where_it_stopped(site, corpus, tmp_path):
    """`newsbot feeds poll` is SIGKILLed while fetching an item of its second batch: the first batch is
    remembered, so the next poll fetches only what was left."""
    count = BATCH_ITEMS + 5
    items, paths = numbered_feed(site, "killed", count)
    hang_at = paths[BATCH_ITEMS + 1]
    hanging, release = threading.Event(), threading.Event()
    served = site.routes[hang_at]

    def hang(handler):
        hanging.set()
        release.wait(60)
        served(handler)

    site.routes[hang_at] = hang
    url = conditional_feed(site, "/killed.xml", {"version": 1, "items": items})
    add_feed(corpus, url, LOCAL)
    env = cli_env(
        tmp_path, NEWSBOT_ARTICLES_DIR=str(corpus.settings.articles_dir), NEWSBOT_ALLOW_PRIVATE_URLS="1",
        NEWSBOT_FETCH_TIMEOUT="60",
    )
    for name in PROXY_VARS:
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "feeds", "poll"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert hanging.wait(120), process.stderr.read1().decode() if process.poll() is not None else "no hang"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        release.set()
        process.kill()
    assert list_feeds(corpus)[0].items == BATCH_ITEMS, "the first batch was remembered before the kill"

    [result] = poll_feeds(corpus, LOCAL)
    assert result.error is None and all(r.ok for r in result.added), [r.line() for r in result.added]
    assert len(result.added) == count - BATCH_ITEMS
    assert [site.hits(p) for p in paths[:BATCH_ITEMS]] == [1] * BATCH_ITEMS, "items remembered are not fetched again"
    assert list_feeds(corpus)[0].items == count and corpus.stats().articles == 2 + count


# --- items that keep failing for a passing reason are given up, so newer items get their turn --------------


def test_items_failing_for_a_passing_reason_are_given_up_after_three_polls(site, corpus, monkeypatch):
    """Oldest first under a cap of 2: two old items answering 503 for ever used to take every poll's turn."""
    items, paths = numbered_feed(site, "flaky", 4)
    for path in paths[:2]:
        site.routes[path] = lambda handler: handler.send_error(503, "Service Unavailable")
    url = conditional_feed(site, "/flaky.xml", {"version": 1, "items": items})
    add_feed(corpus, url, LOCAL)
    monkeypatch.setenv("NEWSBOT_FEED_MAX_ITEMS", "2")

    for poll in range(MAX_TRIES):
        [result] = poll_feeds(corpus, LOCAL)
        assert [r.transient for r in result.added] == [True, True] and result.waiting == 2
    assert result.given_up == 2 and "(2 given up after 3 tries)" in result.line(), result.line()
    assert [site.hits(p) for p in paths] == [MAX_TRIES, MAX_TRIES, 0, 0]
    [newer] = poll_feeds(corpus, LOCAL)
    assert [r.ok for r in newer.added] == [True, True] and newer.waiting == 0 and newer.given_up == 0
    assert [site.hits(p) for p in paths] == [MAX_TRIES, MAX_TRIES, 1, 1]
    assert list_feeds(corpus)[0].items == 4


def test_a_feed_database_from_before_the_try_count_is_migrated(site, corpus):
    """feed_items gained `tries` and `done`: an older database keeps its feeds and remembered items."""
    items, paths = numbered_feed(site, "old-db", 2)
    url = conditional_feed(site, "/old-db.xml", {"version": 1, "items": items})
    with sqlite3.connect(Store(corpus.directory).db_path) as conn:
        conn.executescript(
            """CREATE TABLE feeds (url TEXT PRIMARY KEY, title TEXT, etag TEXT, modified TEXT,
                                   added_at TEXT NOT NULL, polled_at TEXT, error TEXT);
               CREATE TABLE feed_items (feed_url TEXT NOT NULL, key TEXT NOT NULL, seen_at TEXT NOT NULL,
                                        PRIMARY KEY (feed_url, key)) WITHOUT ROWID;"""
        )
        conn.execute("INSERT INTO feeds(url, added_at) VALUES (?, '2024-05-01T00:00:00')", (url,))
        conn.execute("INSERT INTO feed_items VALUES (?, 'old-db-1', '2024-05-01T00:00:00')", (url,))
    conn.close()
    assert [f.items for f in list_feeds(corpus)] == [1], "the item remembered before the migration still counts"
    [result] = poll_feeds(corpus, LOCAL)
    assert [r.ok for r in result.added] == [True] and [site.hits(p) for p in paths] == [0, 1]
    assert list_feeds(corpus)[0].items == 2
