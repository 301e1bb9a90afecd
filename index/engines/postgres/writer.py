"""Writes the index into PostgreSQL (`NEWSBOT_DATABASE_URL`): one transaction per update, so every
process sees the new version whole or not at all, and a crash at any point leaves the last one.

Passage and sentence vectors go into pgvector columns with HNSW indexes, which take new rows as they
come: an update costs what it adds. BM25 reads the postings written here (`snapshot`). One updater
at a time: a session advisory lock, released by the server if the process dies.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from index.database_url import shown_database_url
from index.engines.common import cached_blobs, now_iso
from index.engines.known import TAKING_VALUES, KnownArticles
from index.engines.postgres.connection import connect
from index.engines.postgres.schema import indexed_dimension, make_graph, make_sentence_graph, upgrade
from index.engines.postgres.vectors import WindowedVectors, available
from index.engines.writer import Change, StoredState, Vectors
from index.errors import IndexBusy
from index.text.keywords import document_tokens
from index.text.sentence_words import FORMAT as WORDS_FORMAT
from index.text.sentence_words import fill, for_passage

UPDATE_LOCK = 0x6E657773626F75  # the advisory lock an update holds
LOCK_POLL_SECONDS = 0.5
# Passages from which an update vacuums and analyzes the tables it wrote itself, rather than leave it to autovacuum
# (up to a minute later). Served right after a 65k-passage build (`benchmarks/scale.py --engine postgres`): p50 / p95
# 37 / 72 ms with neither (plans made for empty tables), 49 / 67 analyzed only (the postings' index-only scans visit
# every row's page until a vacuum marks them all-visible), 19 / 24 vacuumed and analyzed (VACUUM: ~4 s at 65k).
ANALYZE_FROM = 1000
KNOWN = {  # the lookups of `KnownArticles`, each list of values a text array (indexed: the primary keys, articles_path)
    "paths": "SELECT DISTINCT path FROM articles",
    "files": "SELECT path, size, mtime_ns FROM index_files WHERE path = ANY(%s)",
    "articles": "SELECT id, content_hash, path FROM articles WHERE id = ANY(%s)",
    "in_paths": "SELECT path, id FROM articles WHERE path = ANY(%s)",
    "without_path": "SELECT id FROM articles WHERE path IS NULL OR path = ''",
}


def drop_vector_indexes(conn) -> None:
    """Drop the HNSW indexes (before rows of another dimension go in: the indexes would refuse them)."""
    conn.execute("DROP INDEX IF EXISTS passages_hnsw")
    conn.execute("DROP INDEX IF EXISTS sentences_hnsw")
    conn.execute("DELETE FROM index_meta WHERE key = 'hnsw_dimension'")


def vector_indexes(conn, dimension: int) -> None:
    """The HNSW indexes for vectors of `dimension` (inner product on unit vectors), made once per dimension."""
    if indexed_dimension(conn) == dimension:
        return
    drop_vector_indexes(conn)
    make_graph(conn, "passages", dimension)
    make_sentence_graph(conn, dimension)
    set_meta(conn, hnsw_dimension=dimension)


def uncount_stems(conn, article_ids: list[str]) -> None:
    """Take the passages of `article_ids` (about to be deleted) out of `stem_counts`; a stem no passage holds any
    more goes."""
    left = conn.execute(
        """UPDATE stem_counts s SET passages = s.passages - gone.n
           FROM (SELECT q.stem, count(*) AS n FROM passages p JOIN postings q ON q.passage_id = p.id
                 WHERE p.article_id = ANY(%s) GROUP BY q.stem) AS gone
           WHERE s.stem = gone.stem RETURNING s.stem, s.passages""",
        (article_ids,),
    ).fetchall()
    emptied = [stem for stem, passages in left if passages <= 0]
    if emptied:
        conn.execute("DELETE FROM stem_counts WHERE stem = ANY(%s)", (emptied,))


def count_stems(conn, first_new: int) -> None:
    """Add the postings of the passages numbered from `first_new` (this update's: ids are never reused) to
    `stem_counts`."""
    conn.execute(
        """INSERT INTO stem_counts (stem, passages)
           SELECT stem, count(*) FROM postings WHERE passage_id >= %s GROUP BY stem
           ON CONFLICT (stem) DO UPDATE SET passages = stem_counts.passages + excluded.passages""",
        (first_new,),
    )


def set_meta(conn, **values: object) -> None:
    """Set index meta values inside the caller's transaction."""
    for key, value in values.items():
        conn.execute(
            "INSERT INTO index_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )


def fill_words(conn, batch: int = 2000) -> int:
    """Store the sentence words of passages written without them (before the sentence-words migration) or in another format.

    A batch per transaction, so an interrupted fill resumes where it stopped; how many were filled.
    """
    every = conn.execute("SELECT value FROM index_meta WHERE key = 'words'").fetchone() != (WORDS_FORMAT,)
    if not every and conn.execute("SELECT 1 FROM passages WHERE words IS NULL LIMIT 1").fetchone() is None:
        return 0
    missing = "" if every else "AND p.words IS NULL"
    total = conn.execute(f"SELECT count(*) FROM passages p WHERE true {missing}").fetchone()[0]

    def fetch(after: int) -> list[tuple]:
        return conn.execute(
            f"""SELECT p.id, p.sentences, p.words, a.text FROM passages p JOIN articles a ON a.id = p.article_id
                WHERE p.id > %s {missing} ORDER BY p.id LIMIT %s""",
            (after, batch),
        ).fetchall()

    def write(stale: list[tuple[str, int]]) -> None:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany("UPDATE passages SET words = %s WHERE id = %s", stale)

    filled = fill(fetch, write, total)
    with conn.transaction():
        set_meta(conn, words=WORDS_FORMAT)
    return filled


class PgWriter:
    """`Writer` for a PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn = None
        self._reading = None  # a second connection, reading vectors while `conn` COPYs them
        self.scratch = None  # the temp folder: processes on several machines may update one database

    @property
    def conn(self):
        if self._conn is None:
            raise RuntimeError("PgWriter used outside its session")
        return self._conn

    @property
    def reading(self):
        if self._reading is None:
            raise RuntimeError("PgWriter used outside its session")
        return self._reading

    @contextmanager
    def session(self, wait: float) -> Iterator[None]:
        upgrade(self.url)
        conn = connect(self.url)
        reading = None
        try:
            from pgvector.psycopg import register_vector

            register_vector(conn)
            deadline = time.monotonic() + wait
            while not conn.execute("SELECT pg_try_advisory_lock(%s)", (UPDATE_LOCK,)).fetchone()[0]:
                if time.monotonic() >= deadline:
                    raise IndexBusy(
                        f"another newsbot process is updating the index in {shown_database_url(self.url)}; try again when it has finished"
                    )
                time.sleep(LOCK_POLL_SECONDS)
            # Only now: a caller turned away above must not touch the session of the update that holds the lock.
            fill_words(conn)
            reading = connect(self.url)
            register_vector(reading)
            # It reads while this thread's own transaction is open: were that ever to lock a table it reads, an error
            # after a minute rather than a wait for ever.
            reading.execute("SET lock_timeout = '60s'")
            self._conn, self._reading = conn, reading
            try:
                yield
            finally:
                self._conn = self._reading = None
        finally:
            if reading is not None:
                reading.close()
            conn.close()  # also releases the advisory lock

    def state(self) -> StoredState:
        meta = dict(self.conn.execute("SELECT key, value FROM index_meta").fetchall())
        return StoredState.read(meta, KnownArticles(self._select))

    def _select(self, query: str, values: list[str]):
        """One of `known.QUERIES`, the values sent as one text array."""
        return self.conn.execute(KNOWN[query], (values,) if query in TAKING_VALUES else ())

    def complete(self, generation: int) -> bool:
        return True  # one database: a committed version is whole

    def cached_vectors(self, model: str, wanted: Mapping[bytes, int]) -> Vectors:
        """Vectors computed but not committed (the cache), then those of committed passages (their own rows), each
        read from the update's second connection a window at a time as the writer asks for it (`vectors`)."""
        recorded = self.conn.execute("SELECT value FROM index_meta WHERE key = 'model'").fetchone()
        where = available(self.conn, model, wanted, reuse_committed=bool(recorded and recorded[0] == model))
        return WindowedVectors(self.reading, model, list(wanted), where)

    def cache_vectors(self, model: str, items: list[tuple[bytes, np.ndarray, np.ndarray]]) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO embeddings (model, hash, vector, sentences) VALUES (%s, %s, %s, %s)
                   ON CONFLICT (model, hash) DO UPDATE SET vector = excluded.vector, sentences = excluded.sentences""",
                [
                    (model, digest, *cached_blobs(vec, sent)) for digest, vec, sent in items
                ],
            )

    def keep(self, generation: int, fingerprints: dict[str, tuple[int, int]], progress: bool) -> int:
        with self.conn.transaction():
            self._fingerprints(fingerprints)
        return self.conn.execute("SELECT count(*) FROM passages").fetchone()[0]

    def commit(self, change: Change, progress: bool) -> int:
        conn, stamp = self.conn, now_iso()
        with conn.transaction():
            if change.full:
                conn.execute("DELETE FROM passages")  # postings and sentences go with them
                conn.execute("DELETE FROM stem_counts")
                conn.execute("DELETE FROM index_files")
            replaced = [p.article.id for p in change.planned] + change.removed
            uncount_stems(conn, replaced)
            conn.execute("DELETE FROM passages WHERE article_id = ANY(%s)", (replaced,))
            conn.execute("DELETE FROM articles WHERE id = ANY(%s)", (change.removed,))
            planned_ids = [p.article.id for p in change.planned]
            known = {row[0] for row in conn.execute("SELECT id FROM articles WHERE id = ANY(%s)", (planned_ids,))}
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO arrivals (article_id, generation, arrived_at) VALUES (%s, %s, %s)",
                    [(aid, change.generation, stamp) for aid in dict.fromkeys(planned_ids) if aid not in known],
                )
                cur.executemany(
                    """INSERT INTO articles (id, title, url, source, published, path, text, content_hash, added_at, updated_at)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                       ON CONFLICT (id) DO UPDATE SET title = excluded.title, url = excluded.url,
                         source = excluded.source, published = excluded.published, path = excluded.path,
                         text = excluded.text, content_hash = excluded.content_hash, updated_at = excluded.updated_at""",
                    [
                        (a.id, a.title, a.url, a.source, a.published, a.path, a.text, a.content_hash(), stamp, stamp)
                        for a in (p.article for p in change.planned)
                    ],
                )
            if indexed_dimension(conn) not in (None, change.dimension):  # a new model: new graphs, built after the rows
                drop_vector_indexes(conn)
            first_new = self._passages(change)
            if first_new is not None:
                count_stems(conn, first_new)
            # After the rows: the first commit builds the graphs in bulk (`schema.GRAPH_MEMORY`); later ones extend them.
            vector_indexes(conn, change.dimension)
            conn.execute(
                "DELETE FROM index_files WHERE path NOT IN (SELECT DISTINCT path FROM articles WHERE path IS NOT NULL)"
            )
            self._fingerprints(change.fingerprints)
            count, total = conn.execute("SELECT count(*), coalesce(sum(length), 0) FROM passages").fetchone()
            sentences = conn.execute("SELECT count(*) FROM sentences").fetchone()[0]
            set_meta(
                conn, generation=change.generation, next_passage_id=change.next_passage_id, signature=change.signature,
                model=change.model, updated_at=stamp, passages=count, total_length=total, sentences=sentences,
                dimension=change.dimension,
            )
        if len(change.rows) >= ANALYZE_FROM:  # (outside the transaction: VACUUM cannot run inside one)
            conn.execute("VACUUM (ANALYZE) articles, passages, postings, sentences, stem_counts")
        return count

    def _passages(self, change: Change) -> int | None:
        """COPY the new passages, their postings and their sentence vectors (binary: no text round trip); the
        lowest passage id written (None: none)."""
        from pgvector import HalfVector
        from psycopg.types.json import Jsonb

        with self.conn.cursor() as cur:
            with cur.copy(
                "COPY passages (id, article_id, ord, char_start, char_end, sentences, embed_hash, body, length, embedding, words)"
                " FROM STDIN (FORMAT BINARY)"
            ) as passages:
                passages.set_types(["int8", "text", "int4", "int4", "int4", "jsonb", "bytea", "text", "int4", "halfvec", "text"])
                first_new = None
                for pid, plan, ordinal, p, digest in change.rows:
                    first_new = pid if first_new is None else min(first_new, pid)
                    article = plan.article
                    body = article.text[p.start : p.end]
                    vector = change.vectors[digest][0]
                    passages.write_row(
                        (pid, article.id, ordinal, p.start, p.end, Jsonb([list(span) for span in p.sentences]), digest, body,
                         len(document_tokens(article.title, body)), HalfVector(np.asarray(vector, dtype=np.float16)),
                         for_passage(article.text, p.sentences))
                    )
            # Postings and sentences in passes of their own over the rows (an update's are read back from disk):
            # gathered in one pass they were held whole, some 60 postings and 6 sentences a passage.
            with cur.copy("COPY postings (stem, passage_id, tf, length) FROM STDIN (FORMAT BINARY)") as postings:
                postings.set_types(["text", "int8", "int4", "int4"])
                for pid, plan, _, p, _ in change.rows:
                    stems = document_tokens(plan.article.title, plan.article.text[p.start : p.end])
                    for stem, tf in Counter(stems).items():
                        postings.write_row((stem, pid, tf, len(stems)))
            with cur.copy("COPY sentences (passage_id, ord, embedding) FROM STDIN (FORMAT BINARY)") as sentences:
                sentences.set_types(["int8", "int4", "halfvec"])
                for pid, _, _, _, digest in change.rows:
                    for k, v in enumerate(change.vectors[digest][1]):
                        sentences.write_row((pid, k, HalfVector(np.asarray(v, dtype=np.float16))))
        return first_new

    def compact(self, progress: bool) -> int | None:
        return None  # one database: PostgreSQL's own indexes take each update's rows in place

    def fold(self, progress: bool, own_process: bool = False) -> int | None:
        return None  # (as `compact`: nothing piles up beside the tables)

    def tidy(self, generation: int, model: str) -> None:
        """Empty the embedding cache: every vector it held for this update is in the committed rows now, the others
        (edited or removed articles, other models) are of no use; an interrupted update's stay until its rerun commits."""
        self.conn.execute("DELETE FROM embeddings")

    def _fingerprints(self, fingerprints: dict[str, tuple[int, int]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO index_files (path, size, mtime_ns) VALUES (%s, %s, %s)
                   ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns""",
                [(path, size, mtime) for path, (size, mtime) in fingerprints.items()],
            )
