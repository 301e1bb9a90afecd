"""On-disk index: one SQLite database (articles, passages, FTS5, embedding cache) plus, per
generation, a FAISS file, a BM25 keyword index folder and a sentence vector folder (`generations.files`).

Atomicity: every update writes the new generation's files under new names, then commits one SQLite
transaction that changes the passages *and* points `meta.generation` at those files. A crash before
the commit leaves the old generation (whose files are kept) in force; SQLite and the files never disagree.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

import filelock

from index.engines.folder import schema
from index.engines.folder.generations.files import KEEP_GENERATIONS, GenerationFolder  # noqa: F401 (re-exported)
from index.errors import IndexBusy, check_model_key
from index.text.sentence_words import FORMAT as WORDS_FORMAT
from index.text.sentence_words import fill

DB_NAME = "newsbot.sqlite"
LOCK_NAME = "update.lock"


def _pragma(conn: sqlite3.Connection, statement: str, seconds: float = 30) -> None:
    """Run a PRAGMA that may need a lock SQLite does not wait for (its busy handler is not called there, as for
    journal_mode), so processes opening one folder at once take turns here."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            conn.execute(statement)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Store(GenerationFolder):
    """The index folder: opens SQLite connections, reads and writes FAISS generations, holds the lock."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.db_path = self.directory / DB_NAME
        self._current = False  # the tables are known to be at this newsbot's version

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
        """A connection in WAL mode (readers never block the writer), the tables brought up to date first
        (`schema`; checked once per `Store`). `IndexCorrupt` for an index a newer newsbot wrote."""
        self.directory.mkdir(parents=True, exist_ok=True)
        new = not self.db_path.exists() or self.db_path.stat().st_size == 0
        conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, check_same_thread=False)
        if new:
            _pragma(conn, "PRAGMA auto_vacuum=INCREMENTAL")  # takes effect only on a new, empty database
        _pragma(conn, "PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        if not self._current:
            try:
                schema.migrate(conn)
            except BaseException:
                conn.close()
                raise
            self._current = True
        return conn

    @contextmanager
    def lock(self, wait: float = 0, poll: float = 0.05):
        """Hold the update lock; `IndexBusy` if another updater holds it for longer than `wait` seconds. Asked again
        every `poll` seconds (a fold asks often: between two updates in a row the lock is free for milliseconds)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.directory / LOCK_NAME))
        try:
            lock.acquire(timeout=wait, poll_interval=poll)
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
            """SELECT p.id, a.title, substr(a.text, p.char_start + 1, p.char_end - p.char_start)
               FROM passages p JOIN articles a ON a.id = p.article_id ORDER BY p.id"""
        )

    @staticmethod
    def fill_words(conn: sqlite3.Connection, batch: int = 2000) -> int:
        """Store the sentence words of passages written without them (by an older newsbot) or in another format.

        Rows without them are read from their text until the next update fills them. A batch per
        transaction, so an interrupted fill resumes where it stopped. Returns how many passages were filled.
        """
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
    def passages_with_hashes(conn: sqlite3.Connection, hashes: list[bytes]) -> dict[bytes, int]:
        """Text hash -> id of a committed passage with that text, for each hash some passage has."""
        found: dict[bytes, int] = {}
        for i in range(0, len(hashes), 500):
            chunk = hashes[i : i + 500]
            rows = conn.execute(f"SELECT embed_hash, id FROM passages WHERE embed_hash IN ({','.join('?' * len(chunk))})", chunk)
            found.update((bytes(digest), pid) for digest, pid in rows)
        return found
