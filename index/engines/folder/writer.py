"""Writes an index folder: SQLite rows plus the new generation's files (`generations.building`), switched to
in one SQLite transaction (see `store`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from index.engines.common import now_iso
from index.engines.folder import arrivals, embedding_cache, folding
from index.engines.folder.generations.building import GenerationFiles
from index.engines.folder.generations.reuse import CommittedVectors
from index.engines.folder.store import Store
from index.engines.known import TAKING_VALUES, KnownArticles
from index.engines.writer import Change, StoredState, Vectors
from index.errors import IndexCorrupt
from index.text.sentence_words import for_passage

# Committed passages an update must want again (a share of the index) before their vectors are read back from
# the generation's files rather than embedded anew: loading the files costs about as much as embedding a few
# hundred passages at 65k passages, and takes memory that grows with the index.
REUSE_SHARE = 0.01
KNOWN = {  # the lookups of `KnownArticles`, each list of values a JSON array (indexed: the primary keys, articles_path)
    "paths": "SELECT DISTINCT path FROM articles",
    "files": "SELECT path, size, mtime_ns FROM files WHERE path IN (SELECT value FROM json_each(?))",
    "articles": "SELECT id, content_hash, path FROM articles WHERE id IN (SELECT value FROM json_each(?))",
    "in_paths": "SELECT path, id FROM articles WHERE path IN (SELECT value FROM json_each(?))",
    "without_path": "SELECT id FROM articles WHERE path IS NULL OR path = ''",
}


class SqliteWriter:
    """`Writer` for an index folder."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.scratch = store.directory  # beside the index: on its disk, and under its update lock
        self._conn: sqlite3.Connection | None = None
        self._cache: sqlite3.Connection | None = None  # the embedding cache, a database of its own

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("SqliteWriter used outside its session")
        return self._conn

    @contextmanager
    def session(self, wait: float) -> Iterator[None]:
        with self.store.lock(wait=wait):
            self._conn = self.store.connect()
            try:
                self._cache = embedding_cache.open_cache(self.store.directory)
                Store.fill_words(self._conn)
                yield
            finally:
                self._conn.close()
                self._conn = None
                if self._cache is not None:
                    self._cache.close()
                    self._cache = None

    def state(self) -> StoredState:
        return StoredState.read(Store.meta(self.conn), KnownArticles(self._select))

    def _select(self, query: str, values: list[str]):
        """One of `known.QUERIES`, the values sent as one JSON array."""
        return self.conn.execute(KNOWN[query], (json.dumps(values),) if query in TAKING_VALUES else ())

    def complete(self, generation: int) -> bool:
        return GenerationFiles(self.store, False).has_sentences(generation)

    def cached_vectors(self, model: str, wanted: Mapping[bytes, int]) -> Vectors:
        """Vectors computed but not committed (the cache, read as asked for), then those the committed generation holds."""
        found = embedding_cache.cached_vectors(self._cache, model, wanted)
        rest = [digest for digest in wanted if digest not in found]
        meta = Store.meta(self.conn)
        if not rest or meta.get("model") != model:
            return found
        committed = Store.passages_with_hashes(self.conn, rest)
        if len(committed) < REUSE_SHARE * int(meta.get("passages") or 0):
            return found  # a few passages: embedding them costs less than loading the generation's files
        try:
            found.committed = CommittedVectors(self.store, int(meta["generation"]), committed, wanted)
        except (ValueError, IndexCorrupt):  # unreadable files: embed again what they held
            pass
        return found

    def cache_vectors(self, model: str, items: list[tuple[bytes, np.ndarray, np.ndarray]]) -> None:
        embedding_cache.cache_vectors(self._cache, model, items)

    def keep(self, generation: int, fingerprints: dict[str, tuple[int, int]], progress: bool) -> int:
        self._record_fingerprints(fingerprints)
        passages = self.conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        try:
            self.store.read_keywords(generation)
        except ValueError:  # written by an older version, or with other keyword settings
            GenerationFiles(self.store, progress).write_keywords(generation, Store.passage_texts(self.conn), passages)
        return passages

    def commit(self, change: Change, progress: bool) -> int:
        conn = self.conn
        # Passages of changed and removed articles are replaced; their FAISS ids are never reused.
        stale_ids = [
            row[0]
            for article_id in [p.article.id for p in change.planned] + change.removed
            for row in conn.execute("SELECT id FROM passages WHERE article_id=?", (article_id,))
        ]
        written = GenerationFiles(self.store, progress).write(
            conn, change.generation - 1, change.full, stale_ids, change.rows, change.vectors, change.dimension
        )
        self._commit(change, written.passages, written.dimension)
        return written.passages

    def compact(self, progress: bool) -> int | None:
        """The committed version's newest segments merged (`GenerationFiles.compact`; but for those a fold in progress
        is taking), committed as a version of its own with the same passages; its number, or None when nothing was
        due."""
        conn = self.conn
        generation = int(Store.meta(conn).get("generation") or 0)
        taken = folding.taken_segments(self.store.directory)
        written = GenerationFiles(self.store, progress).compact(conn, generation, taken) if generation else None
        if written is None:
            return None
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            count = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
            if count != written.passages:
                raise RuntimeError(f"internal error: {count} passages in SQLite but {written.passages} compacted")
            Store.set_meta(conn, generation=generation + 1, passages=count)
        # The version before the update stays until the next commit's `tidy`: a reader may have just read its number.
        return generation + 1

    def fold(self, progress: bool, own_process: bool = False) -> int | None:
        """Fold the recent passages into a new base when due, holding the update lock only to start and finish
        (`folding`), in this process or one of its own; the new version's number, or None."""
        run = folding.Folding(self.store, progress)
        if not own_process:
            return run.run()
        if not run.due() or folding.taken_segments(self.store.directory):
            return None  # (a process takes a second or two to start: only when a fold is due and none is running)
        return folding.fold_in_process(self.store.directory)

    def tidy(self, generation: int, model: str) -> None:
        self.store.remove_old_generations(generation)
        embedding_cache.clear_cache(self._cache)

    def _commit(self, change: Change, passages: int, dimension: int) -> None:
        """One transaction: passages, articles, FTS and the pointer to the new generation's files."""
        conn, stamp = self.conn, now_iso()
        full, planned, removed, rows = change.full, change.planned, change.removed, change.rows
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            if full:
                conn.execute("INSERT INTO passages_fts(passages_fts) VALUES ('delete-all')")
                conn.execute("DELETE FROM passages")
                conn.execute("DELETE FROM files")
            replaced = [p.article.id for p in planned] + removed
            for article_id in replaced:
                # The full-text index keeps no text: a deletion names the words it indexed (the article as stored).
                conn.execute(
                    """INSERT INTO passages_fts(passages_fts, rowid, title, body)
                       SELECT 'delete', p.id, a.title, substr(a.text, p.char_start + 1, p.char_end - p.char_start)
                       FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.article_id = ?""",
                    (article_id,),
                )
                conn.execute("DELETE FROM passages WHERE article_id=?", (article_id,))
            conn.executemany("DELETE FROM articles WHERE id=?", [(a,) for a in removed])
            arrivals.record(conn, arrivals.new_ids(conn, (p.article.id for p in planned)), change.generation, stamp)
            for plan in planned:
                a = plan.article
                conn.execute(
                    """INSERT INTO articles(id, title, url, source, published, path, text, content_hash, added_at, updated_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT(id) DO UPDATE SET title=excluded.title, url=excluded.url,
                         source=excluded.source, published=excluded.published, path=excluded.path,
                         text=excluded.text, content_hash=excluded.content_hash, updated_at=excluded.updated_at""",
                    (a.id, a.title, a.url, a.source, a.published, a.path, a.text, a.content_hash(), stamp, stamp),
                )
            # Rows are generated as SQLite takes them, never held all at once (a full build of a big corpus).
            conn.executemany(
                "INSERT INTO passages(id, article_id, ord, char_start, char_end, sentences, embed_hash, words) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (pid, plan.article.id, ordinal, p.start, p.end, json.dumps(p.sentences), digest,
                     for_passage(plan.article.text, p.sentences))
                    for pid, plan, ordinal, p, digest in rows
                ),
            )
            conn.executemany(
                "INSERT INTO passages_fts(rowid, title, body) VALUES (?, ?, ?)",
                ((pid, plan.article.title, plan.article.text[p.start : p.end]) for pid, plan, _, p, _ in rows),
            )
            conn.execute("DELETE FROM files WHERE path NOT IN (SELECT DISTINCT path FROM articles WHERE path IS NOT NULL)")
            _upsert_files(conn, change.fingerprints)
            count = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
            if count != passages:
                raise RuntimeError(f"internal error: {count} passages in SQLite but {passages} in the index files")
            Store.set_meta(
                conn,
                generation=change.generation,
                next_passage_id=change.next_passage_id,
                signature=change.signature,
                model=change.model,
                updated_at=stamp,
                passages=count,
                dimension=dimension,
            )

    def _record_fingerprints(self, fingerprints: dict[str, tuple[int, int]]) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            _upsert_files(self.conn, fingerprints)


def _upsert_files(conn: sqlite3.Connection, fingerprints: dict[str, tuple[int, int]]) -> None:
    """Note the size and mtime of each file read (inside the caller's transaction)."""
    conn.executemany(
        "INSERT OR REPLACE INTO files(path, size, mtime_ns) VALUES (?, ?, ?)",
        [(path, size, mtime) for path, (size, mtime) in fingerprints.items()],
    )
