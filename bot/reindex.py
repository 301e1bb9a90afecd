"""Run `/news reindex`: one incremental index update at a time, in a background thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from index import Index, IndexBusy, UpdateSummary

log = logging.getLogger("newsbot.reindex")

WAIT_FOR_LOCK_SECONDS = 120.0  # another process (e.g. `newsbot watch`) may be mid-update


class Reindexer:
    """Starts index updates for admins; a second request while one runs is turned away, not queued."""

    def __init__(self, index: Index, wait: float = WAIT_FOR_LOCK_SECONDS) -> None:
        self.index = index
        self.wait = wait
        self._running = threading.Lock()

    def start(self, on_done: Callable[[UpdateSummary | None, str | None], None]) -> bool:
        """Begin an update unless one is running; `on_done(summary, error)` is called from its thread."""
        if not self._running.acquire(blocking=False):
            return False
        threading.Thread(target=self._run, args=(on_done,), name="reindex", daemon=True).start()
        return True

    def _run(self, on_done: Callable[[UpdateSummary | None, str | None], None]) -> None:
        """Update the index, then report the summary or why it did not run."""
        summary, error = None, None
        try:
            summary = self.index.update(progress=False, wait=self.wait)
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
