"""On-disk index: one SQLite database (articles, passages, FTS5, embedding cache) plus, per
generation, a FAISS file, a BM25 keyword index folder and a sentence vector folder.

Atomicity: every update writes the new generation's files under new names, then commits one SQLite
transaction that changes the passages *and* points `meta.generation` at those files. A crash before
the commit leaves the old generation (whose files are kept) in force; SQLite and the files never disagree.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import faiss
import filelock
import numpy as np

from . import vector_index
from .delta import FORMAT_FILE, Delta
from .durable import fsync_directory, link_folder, link_or_copy
from .keyword_index import KeywordIndex
from .sentence_index import SentenceIndex

DB_NAME = "newsbot.sqlite"
LOCK_NAME = "update.lock"
SCHEMA_VERSION = "3"  # 2: the embedding cache is a rowid table; 3: it holds sentence vectors too
# The current and the previous generation's files are kept, so a reader that has just read the old
# generation number can still load its files; older ones are deleted (readers hold them in memory).
KEEP_GENERATIONS = 2

# A rowid table: its 1.5 KB rows fit in a b-tree page (see `Store.migrate`). `sentences` holds the
# passage's sentence vectors (float16, one row per sentence), pooled from the same forward pass.
EMBEDDINGS_TABLE = """CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    hash BLOB NOT NULL,
    vector BLOB NOT NULL,
    sentences BLOB,
    PRIMARY KEY (model, hash)
)"""
SENTENCE_DTYPE = np.float16  # half the space; cosine differences stay below 1e-3

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    url TEXT,
    source TEXT,
    published TEXT,
    path TEXT,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    added_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_path ON articles(path);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id),
    ord INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    sentences TEXT NOT NULL,
    embed_hash BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    title, body, tokenize = 'porter unicode61 remove_diacritics 2'
);
{EMBEDDINGS_TABLE};
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    user TEXT,
    question TEXT NOT NULL,
    passages TEXT NOT NULL,
    vote TEXT NOT NULL
);
"""


class IndexBusy(RuntimeError):
    """Another process is updating this index."""


class IndexCorrupt(RuntimeError):
    """The index files disagree or cannot be read; `newsbot index --rebuild` repairs it."""


class ModelMismatch(RuntimeError):
    """The index was embedded with another model than the one configured now."""


def now_iso() -> str:
    """The current UTC time, to the second, in ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class Store:
    """The index folder: opens SQLite connections, reads and writes FAISS generations, holds the lock."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.db_path = self.directory / DB_NAME

    def exists(self) -> bool:
        """True when an index has been written here at least once."""
        if not self.db_path.exists():
            return False
        with self.connection() as conn:
            return self.generation(conn) > 0

    @contextmanager
    def connection(self):
        """A short-lived connection, closed on exit."""
        conn = self.connect()
        try:
            yield conn
        finally:
            conn.close()

    def connect(self) -> sqlite3.Connection:
        """A connection in WAL mode (readers never block the writer), creating the schema if needed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect only on a new, empty database
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        if conn.execute("SELECT count(*) FROM sqlite_master WHERE name='meta'").fetchone()[0] == 0:
            conn.executescript(SCHEMA)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        return conn

    @contextmanager
    def lock(self, wait: float = 0):
        """Hold the update lock; `IndexBusy` if another updater holds it for longer than `wait` seconds."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.directory / LOCK_NAME))
        try:
            lock.acquire(timeout=wait)
        except filelock.Timeout:
            raise IndexBusy(
                f"another newsbot process is updating the index in {self.directory}; "
                "try again when it has finished"
            ) from None
        try:
            yield
        finally:
            lock.release()

    # --- meta -----------------------------------------------------------------------------------

    @staticmethod
    def meta(conn: sqlite3.Connection) -> dict[str, str]:
        """All meta values (generation, model, signature, timestamps)."""
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())

    @staticmethod
    def generation(conn: sqlite3.Connection) -> int:
        """The committed index version; 0 before the first update."""
        row = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def check_model(conn: sqlite3.Connection, model: str) -> None:
        """Raise `ModelMismatch` when the committed index was embedded with a different model."""
        row = conn.execute("SELECT value FROM meta WHERE key='model'").fetchone()
        if row and row[0] != model:
            raise ModelMismatch(
                f"the index was built with the embedding model {row[0]!r} but this newsbot uses {model!r} "
                "(NEWSBOT_EMBEDDING_MODEL, and @backend from NEWSBOT_EMBEDDING_BACKEND); run `newsbot index` "
                "to re-embed it (or set the variables back)"
            )

    @staticmethod
    def set_meta(conn: sqlite3.Connection, **values: object) -> None:
        """Set meta values inside the caller's transaction."""
        conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            [(k, str(v)) for k, v in values.items()],
        )

    # --- FAISS generations ------------------------------------------------------------------------

    def faiss_path(self, generation: int) -> Path:
        """The FAISS file of one index generation."""
        return self.directory / f"vectors-{generation:08d}.faiss"

    def write_vectors(self, index: faiss.Index, generation: int) -> Path:
        """Write a FAISS index durably under its generation's name (temp file, fsync, rename)."""
        target = self.faiss_path(generation)
        fd, tmp = tempfile.mkstemp(prefix=".vectors-", suffix=".tmp", dir=self.directory)
        os.close(fd)
        try:
            vector_index.write_file(index, tmp)  # a full disk is an OSError, not a RuntimeError
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_directory(self.directory)
        return target

    def read_vectors(self, generation: int) -> faiss.Index:
        """Load one generation's FAISS index into memory."""
        path = self.faiss_path(generation)
        try:
            return vector_index.prepare(faiss.read_index(str(path)))
        except RuntimeError as exc:
            raise IndexCorrupt(f"cannot read {path}: {exc}") from exc

    def remove_old_generations(self, current: int) -> None:
        """Delete the files of old generations and temp files left by crashed updates."""
        for path in [
            *self.directory.glob("vectors-*.faiss"),
            *self.directory.glob("keywords-*"),
            *self.directory.glob("sentences-*"),
            *self.directory.glob("delta-*"),
        ]:
            try:
                generation = int(path.name.split(".")[0].split("-")[1])
            except (IndexError, ValueError):
                continue
            if generation <= current - KEEP_GENERATIONS or generation > current:
                _remove(path)
        for pattern in (".vectors-*.tmp", ".keywords-*.tmp", ".sentences-*.tmp", ".delta-*.tmp"):
            for path in self.directory.glob(pattern):
                _remove(path)

    # --- a base shared by later generations, and their deltas -------------------------------------

    def link_base(self, generation: int, new_generation: int) -> None:
        """Give `new_generation` the base files of `generation` (vectors, BM25, sentences) as hard links."""
        target = self.faiss_path(new_generation)
        target.unlink(missing_ok=True)  # left by an update that crashed before its commit
        link_or_copy(self.faiss_path(generation), target)
        for folder in (self.keywords_path, self.sentences_path):
            written = json.loads((folder(generation) / FORMAT_FILE).read_text())
            link_folder(folder(generation), folder(new_generation), FORMAT_FILE, json.dumps({**written, "generation": new_generation}))
        fsync_directory(self.directory)

    def delta_path(self, generation: int) -> Path:
        """The delta folder of one index generation (none after a full build)."""
        return self.directory / f"delta-{generation:08d}"

    def write_delta(self, delta: Delta, generation: int, base: int) -> None:
        """Write one generation's delta durably (temp folder, fsync, rename)."""
        delta.save(self.delta_path(generation), generation, base)
        fsync_directory(self.directory)

    def read_delta(self, generation: int) -> tuple[Delta, int] | None:
        """`generation`'s delta and base generation, or None after a full build; `IndexCorrupt` when unreadable."""
        path = self.delta_path(generation)
        if not path.exists():
            return None
        try:
            return Delta.load(path, generation)
        except ValueError as exc:
            raise IndexCorrupt(str(exc)) from exc

    # --- sentence vector generations ---------------------------------------------------------------

    def sentences_path(self, generation: int) -> Path:
        """The sentence vector folder of one index generation."""
        return self.directory / f"sentences-{generation:08d}"

    def write_sentences(self, sentences: SentenceIndex, generation: int) -> None:
        """Write one generation's sentence vectors durably (temp folder, fsync, rename)."""
        sentences.save(self.sentences_path(generation), generation)
        fsync_directory(self.directory)

    def read_sentences(self, generation: int) -> SentenceIndex:
        """Load one generation's sentence vectors; `ValueError` when missing, unreadable or not that generation's."""
        return SentenceIndex.load(self.sentences_path(generation), generation)

    # --- BM25 keyword index generations -----------------------------------------------------------

    def keywords_path(self, generation: int) -> Path:
        """The keyword index folder of one index generation."""
        return self.directory / f"keywords-{generation:08d}"

    def write_keywords(self, keywords: KeywordIndex, generation: int) -> None:
        """Write one generation's keyword index durably (temp folder, fsync, rename)."""
        keywords.save(self.keywords_path(generation), generation)
        fsync_directory(self.directory)

    def read_keywords(self, generation: int) -> KeywordIndex:
        """Load one generation's keyword index; `ValueError` when it is missing, unreadable or not that generation's."""
        return KeywordIndex.load(self.keywords_path(generation), generation)

    @staticmethod
    def passage_texts(conn: sqlite3.Connection):
        """`(passage id, title, passage text)` of every passage, by id: what the keyword index holds."""
        return conn.execute(
            """SELECT p.id, a.title, substr(a.text, p.start + 1, p.end - p.start)
               FROM passages p JOIN articles a ON a.id = p.article_id ORDER BY p.id"""
        )

    # --- embedding cache --------------------------------------------------------------------------

    @staticmethod
    def cached_vectors(
        conn: sqlite3.Connection, model: str, hashes: list[bytes]
    ) -> dict[bytes, tuple[np.ndarray, np.ndarray]]:
        """Passage and sentence vectors already computed for these text hashes with this model.

        Rows cached before sentence vectors existed (schema 2) are not returned: they are re-embedded.
        """
        found: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        for i in range(0, len(hashes), 500):
            chunk = hashes[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"""SELECT hash, vector, sentences FROM embeddings
                    WHERE model=? AND sentences IS NOT NULL AND hash IN ({marks})""",
                (model, *chunk),
            )
            for digest, blob, sentence_blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                sentences = np.frombuffer(sentence_blob, dtype=SENTENCE_DTYPE).reshape(-1, len(vector))
                found[digest] = (vector, sentences)
        return found

    @staticmethod
    def migrate(conn: sqlite3.Connection) -> None:
        """Bring an index written by an older version up to this schema (call under the update lock).

        Schema 1 kept the embedding cache WITHOUT ROWID, where a 1.5 KB vector does not fit in the
        b-tree page and each one took a 4 KB overflow page: 3x the space. A rowid table keeps it inline.
        """
        schema = Store.meta(conn).get("schema", "1")
        if schema not in ("1", "2", SCHEMA_VERSION):
            raise IndexCorrupt(f"the index has schema {schema}, newer than this newsbot's {SCHEMA_VERSION}: upgrade newsbot")
        table = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'embeddings'").fetchone()
        if schema == SCHEMA_VERSION and "WITHOUT ROWID" not in table[0].upper():
            return
        if schema == "2":  # schema 3 only adds the sentence vectors column; old rows get re-embedded
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ALTER TABLE embeddings ADD COLUMN sentences BLOB")
                Store.set_meta(conn, schema=SCHEMA_VERSION)
            return
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ALTER TABLE embeddings RENAME TO embeddings_schema1")
            conn.execute(EMBEDDINGS_TABLE)
            conn.execute("INSERT INTO embeddings(model, hash, vector) SELECT model, hash, vector FROM embeddings_schema1")
            conn.execute("DROP TABLE embeddings_schema1")
            Store.set_meta(conn, schema=SCHEMA_VERSION)
        # Once: from now on pruned pages go back to the file system (VACUUM applies the setting).
        conn.executescript("PRAGMA auto_vacuum=INCREMENTAL; VACUUM;")

    @staticmethod
    def prune_cache(conn: sqlite3.Connection, model: str) -> int:
        """Drop cached vectors no passage uses any more (edited or removed articles, other models).

        Called after a committed update, when every vector computed for it is in use; vectors of an
        interrupted update stay until then, so a resumed run still finds them. Returns how many went.
        """
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            gone = conn.execute(
                "DELETE FROM embeddings WHERE model != ? OR hash NOT IN (SELECT embed_hash FROM passages)", (model,)
            ).rowcount
        conn.executescript("PRAGMA incremental_vacuum;")  # all freed pages back to the file system (execute: one)
        return gone

    @staticmethod
    def cache_vectors(
        conn: sqlite3.Connection, model: str, items: list[tuple[bytes, np.ndarray, np.ndarray]]
    ) -> None:
        """Store freshly computed passage and sentence vectors (committed at once: a crash never loses finished work)."""
        with conn:
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings(model, hash, vector, sentences) VALUES (?, ?, ?, ?)",
                [
                    (
                        model,
                        digest,
                        np.asarray(vec, dtype=np.float32).tobytes(),
                        np.asarray(sentences, dtype=SENTENCE_DTYPE).tobytes(),
                    )
                    for digest, vec, sentences in items
                ],
            )
