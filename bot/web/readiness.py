"""Load the model (and build a missing index) in the background, so the server answers Slack from the first second."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable

from index import Index, IndexBusy, IndexCorrupt, ModelError, ModelMismatch

log = logging.getLogger("newsbot.readiness")


def freeze_loaded_objects() -> None:
    """Take the model's and index's objects, loaded once and kept for the process's life, out of the
    collector's walks: every full collection traversed all of them in the middle of an answer (worst of
    1,347 answers 234-240 ms, frozen 89-95 ms: benchmarks/gc_pauses.py, docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()


class Readiness:
    """Warms the index up once; `status()` says whether the bot can answer yet, for `/healthz`."""

    def __init__(self, index: Index, on_fatal: Callable[[str], None]) -> None:
        self.index = index
        self.on_fatal = on_fatal
        self._loaded = threading.Event()

    def start(self) -> None:
        """Begin loading in a background thread."""
        threading.Thread(target=self._load, name="warm-up", daemon=True).start()

    def _load(self) -> None:
        """Build the index if there is none, then load the model and vectors."""
        try:
            if not self.index.exists():
                self._build()
            self.index.warm_up()
        except Exception as exc:  # a model or index that cannot load: the bot could never answer
            if not isinstance(exc, (ModelError, ModelMismatch, IndexCorrupt)):  # those explain themselves in one line
                log.exception("warm-up failed")
            self.on_fatal(f"cannot load the model and index: {exc}")
            return
        freeze_loaded_objects()
        self._loaded.set()
        log.info("ready: model and index loaded")

    def _build(self) -> None:
        """No index yet: index the articles folder, as `newsbot ask` would."""
        log.info("no index in %s yet: indexing %s first", self.index.directory, self.index.settings.articles_dir)
        try:
            log.info("initial index: %s", self.index.update(progress=False).line())
        except IndexBusy:
            log.info("another process is building the index; /healthz turns 200 when it has finished")

    def status(self) -> tuple[bool, str]:
        """(ready, reason): ready once the model is loaded and an index exists."""
        if not self._loaded.is_set():
            return False, "loading the model"
        if not self.index.exists():
            return False, "no index yet"
        return True, "ok"
