"""Newsbot's retrieval core: index news articles and answer questions with verbatim quotes.

Knows nothing of Slack. The public API is `Index.open(directory)`, `.update(paths)`, `.search(question, k)`,
`.stats()` and `.state` (the database beside the index), with the names below; outside `index`, code imports
this module and the entry packages `index.settings`, `index.questions` and `index.reading`, nothing deeper
(docs/architecture.md; tests/test_architecture.py checks it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from index.answering.evaluate import QuestionsError, evaluate, format_table, load_questions
from index.answering.ranking import DEFAULT_RANKING, Ranking
from index.answering.search import Searcher
from index.answering.stories import Story
from index.database_url import check_database_url, shown_database_url
from index.engines import Engine, open_engine, storage_errors, storage_problem
from index.engines.common import now_iso
from index.engines.migrate import Migrated, migrate
from index.engines.snapshot import Reader
from index.engines.state import Migration, Schema, StateConnection, StateDatabase
from index.engines.stored import Stats, StoredArticle
from index.errors import DatabaseError, IndexBusy, IndexCorrupt, ModelMismatch
from index.indexing.indexer import Indexer, Log, Progress, UpdateSummary
from index.models import open_embedder
from index.models.cross_encoder import CrossEncoder, ReaderUnavailable
from index.models.embedder import Embedder, ModelError
from index.questions import NO_CONTEXT, Context, EmptyQuestion, FilterError, Filters
from index.quotes.links import ANSWER_ANCHOR, passage_anchor
from index.quotes.results import Answer, ArticleInfo, Evidence, SearchResult
from index.settings import Settings, SettingsError

_log = logging.getLogger(__name__)

__all__ = [
    "ANSWER_ANCHOR",
    "DEFAULT_RANKING",
    "NO_CONTEXT",
    "Answer",
    "ArticleInfo",
    "Context",
    "CrossEncoder",
    "DatabaseError",
    "Embedder",
    "EmptyQuestion",
    "Engine",
    "Evidence",
    "FilterError",
    "Index",
    "IndexBusy",
    "IndexCorrupt",
    "Log",
    "Migrated",
    "Migration",
    "ModelError",
    "ModelMismatch",
    "Progress",
    "QuestionsError",
    "Ranking",
    "ReaderUnavailable",
    "Schema",
    "SearchResult",
    "Settings",
    "SettingsError",
    "StateConnection",
    "StateDatabase",
    "Stats",
    "StoredArticle",
    "Story",
    "UpdateSummary",
    "check_database_url",
    "evaluate",
    "format_table",
    "load_questions",
    "migrate",
    "now_iso",
    "passage_anchor",
    "shown_database_url",
    "storage_errors",
    "storage_problem",
]


def choose_backend(settings: Settings, reader: Reader) -> str:
    """The embedding backend for `NEWSBOT_EMBEDDING_BACKEND` (`auto` decided here, per index).

    `auto`: a new index (or one already in int8) is embedded with int8 ONNX, the fastest that keeps quality
    (1.4x torch's indexing, questions 4.5x sooner, Hits@5 equal and MRR@10 -0.007 on RealTimeQA 2022,
    docs/benchmarks.md); an index already embedded with the model's own float vectors keeps them (torch
    passages, fp32 ONNX questions): no re-embedding on upgrade. `NEWSBOT_EMBEDDING_BACKEND=onnx-int8`
    converts one (`newsbot index` re-embeds).
    """
    if settings.embedding_backend != "auto":
        return settings.embedding_backend
    return "auto" if reader.recorded_model() == settings.model else "onnx-int8"


class Index:
    """An index (a folder, or PostgreSQL with `NEWSBOT_DATABASE_URL`) plus the model that embeds into it; share one instance per process."""

    def __init__(
        self,
        directory: Path,
        settings: Settings,
        log: Log = print,
        embedder: Embedder | None = None,
        cross_encoder: CrossEncoder | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.settings = settings
        self.log = log
        self.engine = open_engine(self.directory, settings.database_url)
        self.reader, self.writer = self.engine.reader, self.engine.writer
        self.embedder = embedder or open_embedder(settings.model, choose_backend(settings, self.reader))
        cross_encoder = (cross_encoder or CrossEncoder()) if settings.reader else None
        self._searcher = Searcher(self.reader, self.embedder, settings, cross_encoder)
        self._folding: threading.Thread | None = None  # a fold in the background (`update(fold_in_background=True)`)
        self._folding_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        directory: Path | str | None = None,
        settings: Settings | None = None,
        log: Log = print,
        embedder: Embedder | None = None,
        cross_encoder: CrossEncoder | None = None,
    ) -> "Index":
        """Open (or prepare to create) the index in `directory`, default `settings.index_dir`.

        Pass an `embedder` (and a `cross_encoder`) to share loaded models between several indexes in a process.
        """
        settings = settings or Settings.from_env()
        directory = Path(directory) if directory is not None else settings.index_dir
        return cls(directory, settings, log, embedder, cross_encoder)

    @property
    def state(self) -> StateDatabase:
        """The database beside the index where feeds and the bot keep their state (the same engine's)."""
        return self.engine.state

    def exists(self) -> bool:
        """True once an update has been committed."""
        return self.reader.exists()

    def update(
        self,
        paths: Iterable[Path | str] | None = None,
        rebuild: bool = False,
        progress: bool = True,
        wait: float = 0,
        on_progress: Progress | None = None,
        fold_in_background: bool | None = None,
    ) -> UpdateSummary:
        """Index files and folders (default: the articles folder) incrementally.

        `progress` draws a bar on stderr; `on_progress(done, total, seconds_left)` hears the same from the embedding loop.
        `fold_in_background`: what updates piled up is folded (when due) in a process of its own, waited for by a
        thread, rather than before returning, so the caller's next update (a watcher's, a feed's) need not wait
        minutes for a fold at a million passages; by default when this process serves questions (warmed up), not in
        a command that exits after.
        """
        if fold_in_background is None:
            fold_in_background = self._searcher.warmed
        chosen = [Path(p) for p in paths] if paths else [self.settings.articles_dir]
        indexer = Indexer(self.writer, self.embedder, self.settings, self.log, on_progress)
        summary = indexer.update(chosen, rebuild=rebuild, progress=progress, wait=wait, fold=not fold_in_background)
        if summary.changed and self._searcher.warmed:  # a serving process reads the new version now, not in a question
            self._read_ahead()
        if summary.changed and fold_in_background:
            self._fold_in_background(indexer)
        return summary

    def _fold_in_background(self, indexer: Indexer) -> None:
        """Fold in a process of its own, waited for by a thread (one at a time; `Writer.fold` holds the update lock
        only to start and finish, so updates go on meanwhile, and the questions keep this process), the folded
        version read ahead of questions."""

        def fold() -> None:
            if indexer.fold(False, own_process=True) and self._searcher.warmed:
                self._read_ahead()

        with self._folding_lock:
            if self._folding is None or not self._folding.is_alive():
                self._folding = threading.Thread(target=fold, name="fold", daemon=True)
                self._folding.start()

    def wait_for_fold(self, timeout: float | None = None) -> None:
        """Wait for a fold started by `update(fold_in_background=True)` to end (a shutdown, a test)."""
        folding = self._folding
        if folding is not None:
            folding.join(timeout)

    def _read_ahead(self) -> None:
        """Load the newest version for the searcher, in a thread of its own: a reading thread limits FAISS to
        one OpenMP thread, which the updater's next HNSW build must not inherit. Never fails the update."""

        def read() -> None:
            try:
                self._searcher.warm_up()
            except Exception as exc:  # the update is committed all the same; the next question reads the version
                _log.warning("could not read the new index version ahead of questions: %s", exc)

        reader = threading.Thread(target=read, name="read-ahead")
        reader.start()
        reader.join()

    def search(
        self,
        question: str,
        k: int = 3,
        offset: int = 0,
        ranking: Ranking = DEFAULT_RANKING,
        asked: date | None = None,
        context: Context = NO_CONTEXT,
    ) -> SearchResult:
        """Answer a question from the newest committed version of the index.

        `asked`: the day the question is asked, for time words like "this week" (default: today);
        `context`: the earlier questions of its thread and its channel's scope.
        """
        return self._searcher.search(question, k=k, offset=offset, ranking=ranking, asked=asked, context=context)

    def generation(self) -> int:
        """The committed index version (changes after every update that changed something)."""
        return self._searcher.generation()

    def warm_up(self) -> None:
        """Load the models and the current index files now rather than on the first question."""
        self._searcher.warm_up()  # first: a model mismatch is reported before the model loads
        self.embedder.encode_query("warm up")
        self._searcher.load_reader()

    def reader_status(self) -> str:
        """Whether answers are read by the reader: "on", "off (NEWSBOT_READER=off)", or why it is unavailable."""
        return self._searcher.reader_status()

    def stats(self) -> Stats:
        """Counts, newest article, model, the reader's status, size on disk and last update time."""
        stats = self.reader.stats(self.settings.model)
        stats.reader = self.reader_status()
        return stats

    def arrivals(self, after: int = 0, limit: int = 1000) -> list[tuple[int, str]]:
        """(seq, article id) of the articles updates brought after arrival `after`, oldest first (removed ones too)."""
        return self.reader.arrivals(after, limit)

    def stories(self, article_ids: Iterable[str], limit: int = 10, scope: Filters | None = None) -> list[Story]:
        """These articles (those `scope` allows) grouped into stories (same lead, several sources), most sources and newest first."""
        return self._searcher.stories(set(article_ids), limit, scope)

    def recent_titles(self, limit: int = 3) -> list[str]:
        """Titles of the newest articles (App Home suggests questions about them)."""
        return self.reader.recent_titles(limit)

    def find_article(self, urls: Iterable[str] = (), text: str | None = None) -> tuple[str, str] | None:
        """(id, title) of an indexed article with one of these urls or exactly this text, else None."""
        return self.reader.find_article(sorted(set(urls)), text)

    def last_arrival(self) -> int:
        """The newest arrival's seq: where a new follow starts watching (0 before any)."""
        return self.reader.last_arrival()

    def article(self, article_id: str) -> StoredArticle | None:
        """One stored article with its passage spans, or None."""
        return self.reader.article(article_id)
