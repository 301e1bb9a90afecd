"""The index folder's SQLite tables as numbered migrations, and the runner that applies any part's.

Versions are kept in the `meta` table: the index's own under `schema` (as every newsbot has written it, so an
older one refuses a newer index), another part's under `schema.<part>`. Each step runs in a `BEGIN IMMEDIATE`
transaction that first reads the version again, so two processes opening one folder at once apply it once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from index.engines.state import Migration, pending
from index.errors import IndexCorrupt


def _embedding_cache_with_rowids(conn: sqlite3.Connection) -> None:
    """Schema 1 kept the embedding cache WITHOUT ROWID, where a 1.5 KB vector does not fit in the b-tree page
    and each one took a 4 KB overflow page: 3x the space. A rowid table keeps it inline."""
    table = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'embeddings'").fetchone()
    if "WITHOUT ROWID" not in table[0].upper():
        return
    conn.execute("ALTER TABLE embeddings RENAME TO embeddings_schema1")
    conn.execute(
        "CREATE TABLE embeddings (model TEXT NOT NULL, hash BLOB NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, hash))"
    )
    conn.execute("INSERT INTO embeddings(model, hash, vector) SELECT model, hash, vector FROM embeddings_schema1")
    conn.execute("DROP TABLE embeddings_schema1")


def _sentence_words_column(conn: sqlite3.Connection) -> None:
    """Add `passages.words` where an older newsbot did not (it added the column as a nullable one, in place)."""
    if not any(column[1] == "words" for column in conn.execute("PRAGMA table_info(passages)")):
        conn.execute("ALTER TABLE passages ADD COLUMN words TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS passages_unworded ON passages(id) WHERE words IS NULL")


def _contentless_text_search(conn: sqlite3.Connection) -> None:
    """Rebuild `passages_fts` without its own copy of the text: only its index is kept (phrase search reads
    rowids, never the text), and each deletion names the words it had (`engines.folder.writer`)."""
    conn.execute("DROP TABLE IF EXISTS passages_fts")
    conn.execute(
        """CREATE VIRTUAL TABLE passages_fts USING fts5(
               title, body, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
           )"""
    )
    conn.execute(
        """INSERT INTO passages_fts(rowid, title, body)
           SELECT p.id, a.title, substr(a.text, p.char_start + 1, p.char_end - p.char_start)
           FROM passages p JOIN articles a ON a.id = p.article_id"""
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "index tables",
        """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
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
           CREATE TABLE IF NOT EXISTS embeddings (
               model TEXT NOT NULL, hash BLOB NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, hash)
           ) WITHOUT ROWID;""",
    ),
    Migration(2, "the embedding cache as a rowid table", run=_embedding_cache_with_rowids, vacuum=True),
    # The passage's sentence vectors (float16, one row per sentence), pooled from the same forward pass; rows
    # cached before have none and are embedded again.
    Migration(3, "sentence vectors in the embedding cache", "ALTER TABLE embeddings ADD COLUMN sentences BLOB"),
    # Each sentence's stems and names (`sentence_words`); NULL where an older newsbot wrote the row, until the
    # next update fills it (`Store.fill_words`), which the partial index finds at once.
    Migration(4, "sentence words", run=_sentence_words_column),
    # Which articles each update brought (`arrivals`), for follows and digests.
    Migration(
        5,
        "arrivals",
        """CREATE TABLE IF NOT EXISTS arrivals (
               seq INTEGER PRIMARY KEY AUTOINCREMENT,
               article_id TEXT NOT NULL,
               generation INTEGER NOT NULL,
               arrived_at TEXT NOT NULL
           )""",
    ),
    # `end` is a reserved word in PostgreSQL, whose engine named these char_start and char_end from the start.
    Migration(
        6,
        "passage offsets named as in PostgreSQL",
        """ALTER TABLE passages RENAME COLUMN start TO char_start;
           ALTER TABLE passages RENAME COLUMN end TO char_end;""",
    ),
    # Each text stored once: the articles keep it, the full-text index only its own index (schema 6 kept a copy,
    # 0.8 KB a passage), and the embedding cache, now a database of its own (`embedding_cache`), only vectors not
    # committed yet (7 KB a passage were copies of committed ones, read back now from the generation's files,
    # `generations.reuse`, found from a passage's hash through an index). The vectors of an update interrupted
    # before this version are embedded again.
    Migration(
        7,
        "each text and vector stored once",
        """CREATE INDEX IF NOT EXISTS passages_embed_hash ON passages(embed_hash);
           DROP TABLE IF EXISTS embeddings;""",
        run=_contentless_text_search,
        vacuum=True,
    ),
)
LATEST = MIGRATIONS[-1].version
INDEX_KEY = "schema"  # where the index's own version is kept, as every newsbot has kept it
VACUUM_PAGES = 256  # free pages (1 MB) after a step marked `vacuum` that make rewriting the file worth it


def version(conn: sqlite3.Connection, key: str = INDEX_KEY) -> int:
    """The version recorded under `key` in `meta` (0 before the first migration)."""
    if conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0] == 0:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS, key: str = INDEX_KEY) -> list[Migration]:
    """Apply the migrations `conn`'s database lacks (under `meta` key `key`), each in its own write transaction.

    `IndexCorrupt` when the database is newer than this newsbot. Returns the steps applied.
    """
    part = "index" if key == INDEX_KEY else key.removeprefix("schema.")
    try:
        todo = pending(migrations, version(conn, key), part)
    except ValueError as exc:
        raise IndexCorrupt(str(exc)) from None
    applied: list[Migration] = []
    for migration in todo:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if version(conn, key) < migration.version:  # another process may have applied it meanwhile
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                if migration.run is not None:
                    migration.run(conn)
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, str(migration.version)),
                )
                applied.append(migration)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    if any(m.vacuum for m in applied) and conn.execute("PRAGMA freelist_count").fetchone()[0] >= VACUUM_PAGES:
        conn.executescript("PRAGMA auto_vacuum=INCREMENTAL; VACUUM;")  # takes the setting, frees the pages
    return applied


def _statements(sql: str) -> list[str]:
    """The statements of a migration's SQL, one by one (executescript would commit the open transaction)."""
    statements, current = [], ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s.strip("; \n")]
