"""Reads an index folder (SQLite + per-generation files) for search, stats and the article page.

Each question reads one consistent index version: a SQLite read transaction pins the snapshot, and the
files of that same generation are swapped in between questions when they change (`generations`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import faiss

from index.engines.folder import arrivals
from index.engines.folder.generations.loaded import Generations
from index.engines.folder.snapshot import SqliteSnapshot
from index.engines.folder.store import Store
from index.engines.stored import Stats, StoredArticle, read_stats
from index.quotes.results import ArticleInfo

READ_MAP_BYTES = 1 << 32  # address space only: pages are the file's, shared with the page cache


class SqliteReader:
    """One connection per thread; safe to share between threads."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.generations = Generations(store)
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection; the first call also readies the thread for searching."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # One vector per question leaves OpenMP nothing to share out, and its idle threads spin
            # for CPU afterwards: on 2 cores, p95 latency went from 29 to 42 ms with them. The
            # setting is per thread, so an indexer thread still builds HNSW graphs in parallel.
            faiss.omp_set_num_threads(1)
            conn = self._local.conn = self.store.connect()
            # Read the database through a memory map rather than a read() per page: the rows of a question's
            # candidates are scattered over the file (about 0.5 ms less per question at 65k passages).
            conn.execute(f"PRAGMA mmap_size={READ_MAP_BYTES}")
        return conn

    def generation(self) -> int:
        """The committed index version."""
        return Store.generation(self._conn())

    def exists(self) -> bool:
        return self.store.exists()

    def recorded_model(self) -> str | None:
        if not self.store.exists():
            return None
        with self.store.connection() as conn:
            return Store.meta(conn).get("model")

    def check_model(self, model: str) -> None:
        """`ModelMismatch` when the committed index was embedded with another model."""
        Store.check_model(self._conn(), model)

    @contextmanager
    def snapshot(self) -> Iterator[SqliteSnapshot | None]:
        """The newest committed version, read in one transaction (None before the first update).

        `IndexCorrupt` when its files were replaced by a newer version meanwhile: read again.
        """
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            generation = Store.generation(conn)
            yield SqliteSnapshot(conn, self.generations.get(generation, conn)) if generation else None
        finally:
            conn.execute("COMMIT")

    def stats(self, fallback_model: str) -> Stats:
        """Counts, newest article, model, size on disk and last update time."""
        size = 0
        for path in self.store.directory.rglob("*"):  # keyword indexes are folders
            try:
                size += path.stat().st_size if path.is_file() else 0
            except FileNotFoundError:  # an update just renamed or removed it
                pass
        with self.store.connection() as conn:
            conn.execute("BEGIN")
            try:
                return read_stats(conn, Store.meta(conn), size, fallback_model)
            finally:
                conn.execute("COMMIT")

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
                    "SELECT char_start, char_end FROM passages WHERE article_id=? ORDER BY ord", (article_id,)
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        return StoredArticle(ArticleInfo(*row[:6]), row[6], [tuple(s) for s in spans])

    def arrivals(self, after: int, limit: int) -> list[tuple[int, str]]:
        """(seq, article id) of the articles updates brought after arrival `after`, oldest first."""
        with self.store.connection() as conn:
            return arrivals.since(conn, after, limit)

    def last_arrival(self) -> int:
        """The newest arrival's seq (0 before any)."""
        with self.store.connection() as conn:
            return arrivals.latest(conn)

    def recent_titles(self, limit: int) -> list[str]:
        with self.store.connection() as conn:
            rows = conn.execute(
                "SELECT title FROM articles ORDER BY coalesce(published, '') DESC, added_at DESC LIMIT ?", (limit,)
            ).fetchall()
        return [row[0] for row in rows]

    def find_article(self, urls: list[str], text: str | None) -> tuple[str, str] | None:
        with self.store.connection() as conn:
            if urls:
                marks = ",".join("?" * len(urls))
                row = conn.execute(f"SELECT id, title FROM articles WHERE url IN ({marks}) LIMIT 1", urls).fetchone()
                if row:
                    return row[0], row[1]
            if text is not None:
                row = conn.execute("SELECT id, title FROM articles WHERE text = ? LIMIT 1", (text,)).fetchone()
                if row:
                    return row[0], row[1]
        return None
