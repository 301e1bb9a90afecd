"""On-disk index: one SQLite database (articles, passages, FTS5, embedding cache) plus, per
generation, a FAISS file, a BM25 keyword index folder and a sentence vector folder (`generation_folder`).

Atomicity: every update writes the new generation's files under new names, then commits one SQLite
transaction that changes the passages *and* points `meta.generation` at those files. A crash before
the commit leaves the old generation (whose files are kept) in force; SQLite and the files never disagree.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import filelock
import numpy as np

from index.engines.common import SENTENCE_DTYPE
from index.engines.folder.generations.files import KEEP_GENERATIONS, GenerationFolder  # noqa: F401 (re-exported)
from index.errors import IndexBusy, IndexCorrupt, check_model_key
from index.text.sentence_words import FORMAT as WORDS_FORMAT
from index.text.sentence_words import fill

DB_NAME = "newsbot.sqlite"
LOCK_NAME = "update.lock"
SCHEMA_VERSION = "3"  # 2: the embedding cache is a rowid table; 3: it holds sentence vectors too

# A rowid table: its 1.5 KB rows fit in a b-tree page (see `Store.migrate`). `sentences` holds the
# passage's sentence vectors (float16, one row per sentence), pooled from the same forward pass.
EMBEDDINGS_TABLE = """CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    hash BLOB NOT NULL,
    vector BLOB NOT NULL,
    sentences BLOB,
    PRIMARY KEY (model, hash)
)"""
# 👍/👎 votes (bot/feedback.py writes them through `state_db`, which makes this table on first use too).
FEEDBACK_TABLE = """CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    user TEXT,
    question TEXT NOT NULL,
    passages TEXT NOT NULL,
    vote TEXT NOT NULL
)"""

# Finds, at once, the rows an older newsbot wrote without their sentence words (`Store.fill_words`).
UNWORDED_INDEX = "CREATE INDEX IF NOT EXISTS passages_unworded ON passages(id) WHERE words IS NULL"

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
    embed_hash BLOB NOT NULL,
    words TEXT  -- each sentence's stems and names (`sentence_words`); NULL when an older newsbot wrote the row
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
{UNWORDED_INDEX};
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    title, body, tokenize = 'porter unicode61 remove_diacritics 2'
);
{EMBEDDINGS_TABLE};
{FEEDBACK_TABLE};
"""


class Store(GenerationFolder):
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
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('words', ?)", (WORDS_FORMAT,))
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
        check_model_key(row[0] if row else None, model)

    @staticmethod
    def set_meta(conn: sqlite3.Connection, **values: object) -> None:
        """Set meta values inside the caller's transaction."""
        conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            [(k, str(v)) for k, v in values.items()],
        )

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
        Store.fill_words(conn)
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
    def has_words(conn: sqlite3.Connection) -> bool:
        """Whether passages have the sentence-words column (an index an older newsbot wrote has not, until
        this newsbot's first update adds it)."""
        return any(column[1] == "words" for column in conn.execute("PRAGMA table_info(passages)"))

    @staticmethod
    def fill_words(conn: sqlite3.Connection, batch: int = 2000) -> int:
        """Store the sentence words of passages written without them (by an older newsbot) or in another format.

        A nullable column, not a new schema: an older newsbot still reads and writes this index, and its rows
        are read from their text until the next update fills them. A batch per transaction, so an
        interrupted fill resumes where it stopped. Returns how many passages were filled.
        """
        if not Store.has_words(conn):
            conn.execute("ALTER TABLE passages ADD COLUMN words TEXT")
            conn.execute(UNWORDED_INDEX)
        every = Store.meta(conn).get("words") != WORDS_FORMAT  # a new format: every row is stale
        if not every and conn.execute("SELECT 1 FROM passages WHERE words IS NULL LIMIT 1").fetchone() is None:
            return 0
        missing = "" if every else "AND p.words IS NULL"
        total = conn.execute(f"SELECT count(*) FROM passages p WHERE 1 {missing}").fetchone()[0]

        def fetch(after: int) -> list[tuple]:
            rows = conn.execute(
                f"""SELECT p.id, p.sentences, p.words, a.text FROM passages p JOIN articles a ON a.id = p.article_id
                    WHERE p.id > ? {missing} ORDER BY p.id LIMIT ?""",
                (after, batch),
            )
            return [(pid, json.loads(spans), words, text) for pid, spans, words, text in rows]

        def write(stale: list[tuple[str, int]]) -> None:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("UPDATE passages SET words = ? WHERE id = ?", stale)

        filled = fill(fetch, write, total)
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            Store.set_meta(conn, words=WORDS_FORMAT)
        return filled

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
