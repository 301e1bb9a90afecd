"""Reads the index in PostgreSQL for search, stats, the article page and follows: one connection per
thread, each question in its own REPEATABLE READ transaction (a `PgSnapshot`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from index.engines.postgres.connection import connect
from index.engines.postgres.schema import INDEX, require_current, versions
from index.engines.postgres.snapshot import PgSnapshot
from index.engines.stored import Stats, StoredArticle, read_stats
from index.errors import check_model_key
from index.quotes.results import ArticleInfo

MAX_COUNTED_STEMS = 200_000  # stem counts kept for one version (a few MB)


class PgReader:
    """`Reader` for a PostgreSQL database; safe to share between threads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._checked = False
        self._frequencies: tuple[int, dict[str, int]] = (0, {})  # one version's stem counts, shared by its questions

    def _conn(self, checked: bool = True):
        """This thread's connection (reopened if the server closed it); `checked`: the schema must be current."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            import psycopg

            conn = connect(self.url)
            # Every transaction of the reader's is one version read: its BEGIN says so, a round trip fewer than a
            # SET TRANSACTION after it (statements outside a transaction stay autocommit).
            conn.isolation_level, conn.read_only = psycopg.IsolationLevel.REPEATABLE_READ, True
            self._local.conn = conn
            self._local.vectors = False
        if checked and not self._checked:
            require_current(conn)  # a clear "run newsbot db upgrade" rather than a missing table
            self._checked = True
        if checked and not self._local.vectors:
            from pgvector.psycopg import register_vector

            register_vector(conn)
            self._local.vectors = True
        return conn

    def _meta(self, conn) -> dict[str, str]:
        return dict(conn.execute("SELECT key, value FROM index_meta").fetchall())

    def generation(self) -> int:
        return int(self._meta(self._conn()).get("generation", 0))

    def exists(self) -> bool:
        return self.recorded_model() is not None

    def recorded_model(self) -> str | None:
        conn = self._conn(checked=False)  # a fresh database has no index tables yet: not an error here
        if versions(conn).get(INDEX, 0) < 1:
            return None
        meta = self._meta(conn)
        return meta.get("model") if int(meta.get("generation", 0)) else None

    def check_model(self, model: str) -> None:
        check_model_key(self._meta(self._conn()).get("model"), model)

    @contextmanager
    def snapshot(self) -> Iterator[PgSnapshot | None]:
        conn = self._conn()
        with conn.transaction():
            meta = self._meta(conn)
            generation = int(meta.get("generation", 0))
            yield PgSnapshot(conn, meta, self._counted_stems(generation)) if generation else None

    def _counted_stems(self, generation: int) -> dict[str, int]:
        """The stem counts of `generation`, shared by its questions; a newer version starts anew, and a question
        still on an older one (its transaction began before the commit) counts on its own."""
        kept_generation, counts = self._frequencies  # read once: another thread may swap it meanwhile
        if generation < kept_generation:
            return {}
        if generation > kept_generation or len(counts) > MAX_COUNTED_STEMS:
            counts = {}
            self._frequencies = (generation, counts)
        return counts

    def stats(self, fallback_model: str) -> Stats:
        conn = self._conn()
        with conn.transaction():
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            return read_stats(conn, self._meta(conn), size, fallback_model)

    def article(self, article_id: str) -> StoredArticle | None:
        conn = self._conn()
        with conn.transaction():
            row = conn.execute(
                "SELECT id, title, source, url, published, path, text FROM articles WHERE id = %s", (article_id,)
            ).fetchone()
            if row is None:
                return None
            spans = conn.execute(
                "SELECT char_start, char_end FROM passages WHERE article_id = %s ORDER BY ord", (article_id,)
            ).fetchall()
        return StoredArticle(ArticleInfo(*row[:6]), row[6], [tuple(s) for s in spans])

    def arrivals(self, after: int, limit: int) -> list[tuple[int, str]]:
        return self._conn().execute(
            "SELECT seq, article_id FROM arrivals WHERE seq > %s ORDER BY seq LIMIT %s", (after, limit)
        ).fetchall()

    def last_arrival(self) -> int:
        return self._conn().execute("SELECT coalesce(max(seq), 0) FROM arrivals").fetchone()[0]

    def recent_titles(self, limit: int) -> list[str]:
        rows = self._conn().execute(
            "SELECT title FROM articles ORDER BY coalesce(published, '') DESC, added_at DESC LIMIT %s", (limit,)
        ).fetchall()
        return [row[0] for row in rows]

    def find_article(self, urls: list[str], text: str | None) -> tuple[str, str] | None:
        conn = self._conn()
        row = conn.execute("SELECT id, title FROM articles WHERE url = ANY(%s) LIMIT 1", (urls,)).fetchone() if urls else None
        if row is None and text is not None:
            row = conn.execute("SELECT id, title FROM articles WHERE text = %s LIMIT 1", (text,)).fetchone()
        return (row[0], row[1]) if row else None
