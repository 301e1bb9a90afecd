"""Run `/news reindex`: one incremental index update at a time, in a background thread, with progress."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from index import Index, IndexBusy, UpdateSummary

log = logging.getLogger("newsbot.reindex")

WAIT_FOR_LOCK_SECONDS = 120.0  # another process (e.g. `newsbot watch`) may be mid-update
FIRST_REPORT_SECONDS = 30.0  # a short update only reports its summary
REPORT_EVERY_SECONDS = 120.0
MAX_REPORTS = 3  # a response_url takes 5 messages: these, the summary and one to spare

# (passages embedded, passages to embed, seconds left or None)
OnProgress = Callable[[int, int, float | None], None]


class ProgressReports:
    """Passes on embedding progress at most `MAX_REPORTS` times: first after `first` seconds, then every `every`."""

    def __init__(self, report: OnProgress, first: float = FIRST_REPORT_SECONDS, every: float = REPORT_EVERY_SECONDS) -> None:
        self.report = report
        self.started = time.monotonic()
        self.next_at = self.started + first
        self.every = every
        self.sent = 0

    def __call__(self, done: int, total: int, seconds_left: float | None) -> None:
        now = time.monotonic()
        if self.sent >= MAX_REPORTS or now < self.next_at or done == 0 or done >= total:
            return
        self.sent += 1
        self.next_at = now + self.every
        try:
            self.report(done, total, seconds_left)
        except Exception:  # a progress line that could not be posted must not stop the update
            log.exception("could not report reindex progress")


class Reindexer:
    """Starts index updates for admins; a second request while one runs is turned away, not queued."""

    def __init__(
        self, index: Index, wait: float = WAIT_FOR_LOCK_SECONDS, first_report: float = FIRST_REPORT_SECONDS,
        report_every: float = REPORT_EVERY_SECONDS,
    ) -> None:
        self.index = index
        self.wait = wait
        self.first_report = first_report
        self.report_every = report_every
        self._running = threading.Lock()

    def start(
        self, on_done: Callable[[UpdateSummary | None, str | None], None], on_progress: OnProgress | None = None
    ) -> bool:
        """Begin an update unless one is running; `on_done(summary, error)` is called from its thread.

        `on_progress(done, total, seconds_left)` hears, now and then, how far embedding has come.
        """
        if not self._running.acquire(blocking=False):
            return False
        reports = ProgressReports(on_progress, self.first_report, self.report_every) if on_progress else None
        threading.Thread(target=self._run, args=(on_done, reports), name="reindex", daemon=True).start()
        return True

    def _run(self, on_done: Callable[[UpdateSummary | None, str | None], None], reports: ProgressReports | None) -> None:
        """Update the index, then report the summary or why it did not run."""
        summary, error = None, None
        try:
            summary = self.index.update(progress=False, wait=self.wait, on_progress=reports)
            log.info("reindex: %s", summary.line())
        except IndexBusy as exc:
            error = str(exc)
        except Exception:
            log.exception("reindex failed")
            error = "the update failed; the details are in the bot's log"
        finally:
            self._running.release()
        try:
            on_done(summary, error)
        except Exception:
            log.exception("could not report the reindex result")
