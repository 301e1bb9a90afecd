"""`newsbot watch`, `newsbot add` and `newsbot feeds`: terminal glue over intake.watcher, intake.adding
and intake.feeds."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from collections.abc import Callable

from index import Index, Settings
from index.settings import number_env
from intake.adding import add_urls
from intake.feeds import FeedError, add_feed, list_feeds, poll_feeds, remove_feed
from intake.fetch import FetchSettings, redact
from intake.watcher import DEFAULT_FEED_INTERVAL, Watcher


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _open(settings: Settings | None = None, log: Callable[[str], None] = _err) -> Index:
    return Index.open(settings=settings or Settings.from_env(), log=log)


def _skips_once(log: Callable[[str], None]) -> Callable[[str], None]:
    """A log that reports each skipped file once: the watcher re-reads bad files on every update."""
    reported: set[str] = set()

    def write(message: str) -> None:
        if message.startswith("skipped: "):
            if message in reported:
                return
            reported.add(message)
        log(message)

    return write


def _feed_interval(args: argparse.Namespace) -> int:
    """--feed-interval, else NEWSBOT_FEED_INTERVAL, else the default (seconds between feed polls)."""
    return args.feed_interval or int(number_env("NEWSBOT_FEED_INTERVAL", DEFAULT_FEED_INTERVAL))


def cmd_watch(args: argparse.Namespace) -> int:
    """Keep the index current until SIGTERM or Ctrl-C; a second signal stops at once."""
    settings = Settings.from_env()
    if args.folder is not None:
        settings = dataclasses.replace(settings, articles_dir=args.folder)
    if not settings.articles_dir.is_dir():
        _err(f"newsbot watch: no such folder: {settings.articles_dir}")
        return 1
    index = _open(settings, log=_skips_once(_err))
    watcher = Watcher(index, settings.articles_dir, _feed_interval(args), FetchSettings.from_env(), _err)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        _err("watch: stopping (after the current update, if one is running)")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    watcher.run(stop)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    """Fetch, save and index each URL; exit 1 if any could not be added (already indexed is fine)."""
    results = add_urls(_open(), args.urls, FetchSettings.from_env())
    for result in results:
        print(result.line(), flush=True)
    return 0 if all(r.ok or r.duplicate for r in results) else 1


def cmd_feeds(args: argparse.Namespace) -> int:
    """Follow, unfollow, list or poll feeds."""
    index = _open()
    action = args.feeds_command
    if action == "add":
        try:
            feed = add_feed(index, args.url, FetchSettings.from_env())
        except FeedError as exc:
            _err(f"newsbot feeds add: {exc}")
            return 1
        shown = redact(feed.url)
        print(f"following “{feed.title or shown}” ({shown}); its items are added at the next poll (newsbot feeds poll)")
        return 0
    if action == "remove":
        if remove_feed(index, args.url):
            print(f"no longer following {redact(args.url)} (its articles stay in the index)")
            return 0
        _err(f"newsbot feeds remove: not following {redact(args.url)}")
        return 1
    if action == "list":
        feeds = list_feeds(index)
        if not feeds:
            print("no feeds followed; add one with: newsbot feeds add URL")
        for feed in feeds:
            state = f"error: {feed.error}" if feed.error else f"last polled {feed.polled_at or 'never'}"
            print(f"{redact(feed.url)}  “{feed.title or '-'}”  {feed.items} items seen, {state}")  # stored before refusals
        return 0
    results = poll_feeds(index, FetchSettings.from_env())
    if not results:
        print("no feeds followed; add one with: newsbot feeds add URL")
    for result in results:
        print(result.line(), flush=True)
        for added in result.added:
            print(f"  {added.line()}", flush=True)
    return 1 if any(r.error for r in results) else 0


def run(args: argparse.Namespace) -> int:
    """Run the `newsbot` subcommand `args.command` of this module."""
    return {"watch": cmd_watch, "add": cmd_add, "feeds": cmd_feeds}[args.command](args)
