"""Newsbot's retrieval core: index news articles and answer questions with verbatim quotes.

Knows nothing of Slack. The public API is `Index.open(directory)`, `.update(paths)`,
`.search(question, k)` and `.stats()`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from . import arrivals
from .context import NO_CONTEXT, Context
from .embeddings import Embedder, ModelError
from .indexer import Indexer, Log, Progress, UpdateSummary
from .search import DEFAULT_RANKING, Answer, ArticleInfo, EmptyQuestion, FilterError, Ranking, Searcher, SearchResult
from .settings import Settings, SettingsError
from .store import IndexBusy, IndexCorrupt, ModelMismatch, Store
from .stories import Story

__all__ = [
    "Answer",
    "Context",
    "Embedder",
    "ArticleInfo",
    "EmptyQuestion",
    "FilterError",
    "Index",
    "IndexBusy",
    "IndexCorrupt",
    "ModelError",
    "ModelMismatch",
    "Progress",
    "Ranking",
    "SearchResult",
    "Settings",
    "SettingsError",
    "Stats",
    "StoredArticle",
    "Story",
    "UpdateSummary",
]


@dataclass
class Stats:
    """What the index holds, for `newsbot stats`, `/news stats` and App Home."""

    articles: int
    passages: int
    sources: int
    newest_title: str | None
    newest_published: str | None
    model: str
    size_bytes: int
    updated_at: str | None
    generation: int
    # Per source (by article count): name, articles, first and last publication day — what to filter on.
    source_list: list[tuple[str, int, str | None, str | None]] = field(default_factory=list)


@dataclass
class StoredArticle:
    """An article as stored, with its passages' spans (for the article page)."""

    info: ArticleInfo
    text: str
    passages: list[tuple[int, int]]


class Index:
    """An index folder plus the model that embeds into it; share one instance per process."""

    def __init__(
        self, directory: Path, settings: Settings, log: Log = print, embedder: Embedder | None = None
    ) -> None:
        self.directory = Path(directory)
        self.settings = settings
        self.store = Store(self.directory)
        self.embedder = embedder or Embedder(settings.model, settings.embedding_backend)
        self.log = log
        self._searcher = Searcher(self.store, self.embedder, settings)

    @classmethod
    def open(
        cls,
        directory: Path | str | None = None,
        settings: Settings | None = None,
        log: Log = print,
        embedder: Embedder | None = None,
    ) -> "Index":
        """Open (or prepare to create) the index in `directory`, default `settings.index_dir`.

        Pass an `embedder` to share one loaded model between several indexes in a process.
        """
        settings = settings or Settings.from_env()
        return cls(Path(directory) if directory is not None else settings.index_dir, settings, log, embedder)

    def exists(self) -> bool:
        """True once an update has been committed."""
        return self.store.exists()

    def update(
        self,
        paths: Iterable[Path | str] | None = None,
        rebuild: bool = False,
        progress: bool = True,
        wait: float = 0,
        on_progress: Progress | None = None,
    ) -> UpdateSummary:
        """Index files and folders (default: the articles folder) incrementally.

        `progress` draws a bar on stderr; `on_progress(done, total, seconds_left)` hears the same from the embedding loop.
        """
        chosen = [Path(p) for p in paths] if paths else [self.settings.articles_dir]
        indexer = Indexer(self.store, self.embedder, self.settings, self.log, on_progress)
        return indexer.update(chosen, rebuild=rebuild, progress=progress, wait=wait)

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
        """Load the model and the current index files now rather than on the first question."""
        self._searcher.warm_up()  # first: a model mismatch is reported before the model loads
        self.embedder.encode_query("warm up")

    def stats(self) -> Stats:
        """Counts, newest article, model, size on disk and last update time."""
        with self.store.connection() as conn:
            meta = Store.meta(conn)
            articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
            passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
            sources = conn.execute("SELECT count(DISTINCT source) FROM articles").fetchone()[0]
            newest = conn.execute(
                "SELECT title, published FROM articles ORDER BY coalesce(published, '') DESC, added_at DESC LIMIT 1"
            ).fetchone()
            source_list = conn.execute(
                """SELECT coalesce(source, '(no source)'), count(*), min(substr(published, 1, 10)),
                          max(substr(published, 1, 10))
                   FROM articles GROUP BY coalesce(source, '(no source)') ORDER BY count(*) DESC, 1"""
            ).fetchall()
        size = 0
        for path in self.directory.rglob("*"):  # keyword indexes are folders
            try:
                size += path.stat().st_size if path.is_file() else 0
            except FileNotFoundError:  # an update just renamed or removed it
                pass
        return Stats(
            articles=articles,
            passages=passages,
            sources=sources,
            newest_title=newest[0] if newest else None,
            newest_published=newest[1] if newest else None,
            model=meta.get("model", self.settings.model),
            size_bytes=size,
            updated_at=meta.get("updated_at"),
            generation=int(meta.get("generation", 0)),
            source_list=[tuple(row) for row in source_list],
        )

    def arrivals(self, after: int = 0, limit: int = 1000) -> list[tuple[int, str]]:
        """(seq, article id) of the articles updates brought after arrival `after`, oldest first (removed ones too)."""
        with self.store.connection() as conn:
            return arrivals.since(conn, after, limit)

    def stories(self, article_ids: Iterable[str], limit: int = 10) -> list[Story]:
        """These articles grouped into stories (same lead, several sources), most sources and newest first."""
        return self._searcher.stories(set(article_ids), limit)

    def last_arrival(self) -> int:
        """The newest arrival's seq: where a new follow starts watching (0 before any)."""
        with self.store.connection() as conn:
            return arrivals.latest(conn)

    def article(self, article_id: str) -> StoredArticle | None:
        """One stored article with its passage spans, or None."""
        with self.store.connection() as conn:
            conn.execute("BEGIN")  # text and spans from one index version, even while an update commits
            try:
                row = conn.execute(
                    "SELECT id, title, source, url, published, path, text FROM articles WHERE id=?", (article_id,)
                ).fetchone()
                if row is None:
                    return None
                spans = conn.execute(
                    "SELECT start, end FROM passages WHERE article_id=? ORDER BY ord", (article_id,)
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        return StoredArticle(ArticleInfo(*row[:6]), row[6], [tuple(s) for s in spans])
