"""Keep the index current by itself: watch the articles folder and poll the followed feeds.

File events are debounced (an editor's save or a copied folder is many events) and then one
incremental update of the whole folder runs, so no event can be lost in between. Feeds are polled
on a thread of their own, so a slow feed never holds up the folder; the index's update lock keeps
the two from updating at once. Nothing that goes wrong with a file, a page or a feed stops the
loop; it is logged and tried again later.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_OPENED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from index import Index, IndexBusy, Log
from intake.feeds import list_feeds, poll_feeds
from intake.fetch import FetchSettings

DEBOUNCE = 1.0  # seconds without events before an update starts
MAX_DELAY = 10.0  # ...but never later than this after the first event of a burst
TICK = 0.2
UPDATE_WAIT = 30.0  # seconds to wait for another updater (`newsbot add`) before trying later
BUSY_RETRY = 2.0
ERROR_RETRY = 30.0
DEFAULT_FEED_INTERVAL = 900


class _Changes(FileSystemEventHandler):
    """Remembers when article files last changed; hidden files (temp files) and the index are ignored."""

    def __init__(self, folder: Path, ignored: Path) -> None:
        self.folder = folder
        self.ignored = ignored
        self._lock = threading.Lock()
        self._first: float | None = None
        self._last = 0.0

    def _relevant(self, path: str) -> bool:
        candidate = Path(os.fsdecode(path)).resolve()
        if candidate == self.ignored or self.ignored in candidate.parents:
            return False
        try:
            parts = candidate.relative_to(self.folder).parts
        except ValueError:
            return False
        return not any(part.startswith(".") for part in parts)

    def on_any_event(self, event: FileSystemEvent) -> None:
        """Note a change to an article file or folder."""
        if event.event_type in (EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE):
            return
        if event.is_directory and event.event_type == EVENT_TYPE_MODIFIED:
            return  # accompanies the events of the files inside
        if not any(self._relevant(p) for p in (event.src_path, event.dest_path) if p):
            return
        now = time.monotonic()
        with self._lock:
            self._first = self._first or now
            self._last = now

    def settled(self) -> bool:
        """True (once) when changes are pending and have been quiet for `DEBOUNCE` seconds."""
        now = time.monotonic()
        with self._lock:
            if self._first is None or (now - self._last < DEBOUNCE and now - self._first < MAX_DELAY):
                return False
            self._first = None
            return True


class Watcher:
    """Runs until `stop` is set: folder changes become index updates, feeds are polled on an interval."""

    def __init__(
        self,
        index: Index,
        folder: Path,
        feed_interval: float = DEFAULT_FEED_INTERVAL,
        settings: FetchSettings | None = None,
        log: Log = print,
    ) -> None:
        self.index = index
        self.folder = Path(folder).resolve()
        self.feed_interval = feed_interval
        self.settings = settings or FetchSettings.from_env()
        self.log = log
        self._changes = _Changes(self.folder, index.directory.resolve())
        self._retry_at: float | None = None

    def run(self, stop: threading.Event) -> None:
        """Catch up with changes made while not watching, then follow the folder and the feeds until `stop`.

        Once `stop` is set, the update in progress and the feed page in hand are finished first.
        """
        observer = Observer()
        observer.schedule(self._changes, str(self.folder), recursive=True)
        observer.start()
        # a daemon, so that an interrupt (a second signal) ends the process without waiting for it
        feeds = threading.Thread(target=self._poll_loop, args=(stop,), name="newsbot feeds", daemon=True)
        try:
            self.sync()
            self.log(f"watching {self.folder} (feeds polled every {self.feed_interval:g}s)")
            feeds.start()
            while not stop.is_set():
                retry_due = self._retry_at is not None and time.monotonic() >= self._retry_at
                if self._changes.settled() or retry_due:
                    self.sync()
                stop.wait(TICK)
            feeds.join()
        finally:
            stop.set()  # ends the feed thread too if the loop itself failed
            observer.stop()
            observer.join()
        self.log("watch: stopped")

    def sync(self) -> None:
        """One incremental update of the folder; a failure is logged and retried later."""
        self._retry_at = None
        try:
            # (a fold, when due, in a thread of its own: the next article need not wait minutes for it)
            summary = self.index.update([self.folder], progress=False, wait=UPDATE_WAIT, fold_in_background=True)
        except IndexBusy:
            self._retry_at = time.monotonic() + BUSY_RETRY
            return
        except Exception as exc:
            self.log(f"watch: update failed ({type(exc).__name__}: {exc}); retrying in {ERROR_RETRY:g}s")
            self._retry_at = time.monotonic() + ERROR_RETRY
            return
        if summary.changed:
            self.log(f"watch: {summary.line()}")

    def _poll_loop(self, stop: threading.Event) -> None:
        """Poll the feeds now and then every `feed_interval` seconds, until `stop` is set."""
        while not stop.is_set():
            self.poll(stop)
            stop.wait(self.feed_interval)

    def poll(self, stop: threading.Event | None = None) -> None:
        """Poll the followed feeds once, logging new items, failures and feed errors."""
        try:
            if not list_feeds(self.index):
                return
            for result in poll_feeds(self.index, self.settings, stop):
                if result.error or result.added or result.waiting:
                    self.log(f"watch: {result.line()}")
                for added in result.added:
                    if not added.duplicate:
                        self.log(f"watch:   {added.line()}")
        except Exception as exc:
            self.log(f"watch: feed poll failed ({type(exc).__name__}: {exc})")
