"""PostgreSQL as the store several bot processes share (`NEWSBOT_DATABASE_URL`): connections and the
schema's versioned migrations, applied under an advisory lock so two processes may upgrade at once.

The index lives here (`pg_writer`, `pg_reader`) with the shared Slack state (event de-duplication).
Migrations only ever append: each has a number, and the database records which ran.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.database_url import password_in, redact
from index.errors import DatabaseError

CONNECT_TIMEOUT_SECONDS = 10
# A posting's BM25 weight without the IDF, at a typical length (k1 1.2, b 0.75): what the impact index orders by.
IMPACT = "(tf::real / (tf + 1.2 * (0.25 + 0.75 * length / 100.0)))"
MIGRATION_LOCK = 0x6E657773626F74  # "newsbot": the advisory lock every upgrade takes


@dataclass(frozen=True)
class Migration:
    """One step of the schema: its number (applied in order, once) and its SQL."""

    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "event claims",
        """CREATE TABLE event_claims (
               event_id text PRIMARY KEY,
               claimed_at timestamptz NOT NULL,
               answered boolean NOT NULL DEFAULT false
           );
           CREATE INDEX event_claims_claimed_at ON event_claims (claimed_at);""",
    ),
    Migration(
        2,
        "index",
        # Vectors are stored unsized; the HNSW indexes, which need a size, are made on the first commit
        # for the model's dimension (`pg_writer`). `length` (stems in title + passage) and the postings
        # give BM25 from term statistics, read in the reader's own snapshot.
        """CREATE EXTENSION IF NOT EXISTS vector;
           CREATE TABLE index_meta (key text PRIMARY KEY, value text NOT NULL);
           CREATE TABLE index_files (path text PRIMARY KEY, size bigint NOT NULL, mtime_ns bigint NOT NULL);
           CREATE TABLE articles (
               id text PRIMARY KEY,
               title text NOT NULL,
               url text,
               source text,
               published text,
               path text,
               text text NOT NULL,
               content_hash text NOT NULL,
               added_at text NOT NULL,
               updated_at text NOT NULL
           );
           CREATE INDEX articles_path ON articles (path);
           CREATE TABLE passages (
               id bigint PRIMARY KEY,
               article_id text NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
               ord integer NOT NULL,
               char_start integer NOT NULL,
               char_end integer NOT NULL,
               sentences jsonb NOT NULL,
               embed_hash bytea NOT NULL,
               body text NOT NULL,
               length integer NOT NULL,
               embedding vector NOT NULL
           );
           CREATE INDEX passages_article ON passages (article_id);
           CREATE INDEX passages_embed_hash ON passages (embed_hash);
           CREATE INDEX passages_body ON passages USING gin (to_tsvector('english', body));
           CREATE TABLE postings (
               stem text NOT NULL,
               passage_id bigint NOT NULL REFERENCES passages (id) ON DELETE CASCADE,
               tf integer NOT NULL,
               length integer NOT NULL,
               PRIMARY KEY (stem, passage_id)
           );
           CREATE INDEX postings_passage ON postings (passage_id);
           CREATE TABLE sentences (
               passage_id bigint NOT NULL REFERENCES passages (id) ON DELETE CASCADE,
               ord integer NOT NULL,
               embedding halfvec NOT NULL,
               PRIMARY KEY (passage_id, ord)
           );
           CREATE TABLE embeddings (
               model text NOT NULL,
               hash bytea NOT NULL,
               vector bytea NOT NULL,
               sentences bytea NOT NULL,
               PRIMARY KEY (model, hash)
           );
           CREATE TABLE arrivals (
               seq bigserial PRIMARY KEY,
               article_id text NOT NULL,
               generation integer NOT NULL,
               arrived_at text NOT NULL
           );""",
    ),
    Migration(
        3,
        "bot state",
        # The bot's stores (bot/scopes.py, follows.py, digests.py, feedback.py), column for column as on SQLite.
        """CREATE TABLE channel_scopes (channel text PRIMARY KEY, filters text NOT NULL, set_by text, set_at text NOT NULL);
           CREATE TABLE follows (
               id bigserial PRIMARY KEY,
               channel text NOT NULL,
               question text NOT NULL,
               created_by text,
               created_at text NOT NULL,
               seen bigint NOT NULL
           );
           CREATE INDEX follows_channel ON follows (channel);
           CREATE TABLE follow_posts (
               follow_id bigint NOT NULL,
               article_id text NOT NULL,
               state text NOT NULL,
               story text,
               score double precision NOT NULL DEFAULT 0,
               created_at text NOT NULL,
               claimed_at text,
               posted_at text,
               PRIMARY KEY (follow_id, article_id)
           );
           CREATE INDEX follow_posts_state ON follow_posts (state, follow_id);
           CREATE TABLE digests (
               channel text PRIMARY KEY,
               cadence text NOT NULL,
               weekday text,
               at_time text NOT NULL,
               zone text NOT NULL,
               topic text NOT NULL DEFAULT '',
               skip_empty integer NOT NULL DEFAULT 0,
               set_by text,
               set_at text NOT NULL,
               last_due text NOT NULL,
               last_seq bigint NOT NULL,
               claimed_at text
           );
           CREATE TABLE feedback (
               id bigserial PRIMARY KEY,
               created_at text NOT NULL,
               "user" text,
               question text NOT NULL,
               passages text NOT NULL,
               vote text NOT NULL
           );""",
    ),
    Migration(
        4,
        "feeds",
        # index/feeds.py: the feeds followed and the items each has handled, column for column as on SQLite.
        """CREATE TABLE feeds (
               url text PRIMARY KEY,
               title text,
               etag text,
               modified text,
               added_at text NOT NULL,
               polled_at text,
               error text
           );
           CREATE TABLE feed_items (
               feed_url text NOT NULL,
               key text NOT NULL,
               seen_at text NOT NULL,
               tries integer NOT NULL DEFAULT 0,
               done integer NOT NULL DEFAULT 1,
               PRIMARY KEY (feed_url, key)
           );""",
    ),
    Migration(
        5,
        "postings by impact",
        # Each stem's postings in the order of their BM25 weight (tf saturated by length, at a typical
        # length of 100 stems): a question reads only the strongest postings of its common words
        # (`pg_snapshot.PgKeywords`), not all of them. The expression must match IMPACT there.
        f"CREATE INDEX postings_impact ON postings (stem, {IMPACT} DESC) INCLUDE (passage_id, tf, length)",
    ),
    Migration(
        6,
        "sentence words",
        # Each sentence's stems and names (`sentence_words`), so a question does not tokenize them; rows
        # written before are read from their text until the next update fills them (`pg_writer`).
        """ALTER TABLE passages ADD COLUMN words text;
           CREATE INDEX passages_unworded ON passages (id) WHERE words IS NULL;""",
    ),
)
LATEST = MIGRATIONS[-1].version


def connect(url: str):
    """An autocommit connection; `DatabaseError` (password left out) when the server cannot be reached."""
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if url in reason or password_in(url) and password_in(url) in reason:  # libpq may quote what it could not parse
            reason = type(exc).__name__
        raise DatabaseError(f"cannot connect to {redact(url)}: {reason}") from None


def version(conn) -> int:
    """The schema version this database is at (0 when newsbot never upgraded it)."""
    exists = conn.execute("SELECT to_regclass('newsbot_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM newsbot_migrations").fetchone()[0]


def upgrade(url: str) -> list[Migration]:
    """Apply the migrations the database lacks, in one transaction under the advisory lock; the ones applied.

    A second process upgrading at the same moment waits for the lock, then finds nothing left to do.
    A database already past this newsbot's migrations is refused rather than written in an old shape.
    """
    with connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            """CREATE TABLE IF NOT EXISTS newsbot_migrations (
                   version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        current = version(conn)
        if current > LATEST:
            raise DatabaseError(f"the database is at schema {current}, newer than this newsbot's {LATEST}: upgrade newsbot")
        pending = [m for m in MIGRATIONS if m.version > current]
        for migration in pending:
            conn.execute(migration.sql)
            conn.execute("INSERT INTO newsbot_migrations (version, name) VALUES (%s, %s)", (migration.version, migration.name))
    return pending


def require_current(conn) -> None:
    """`DatabaseError` unless the schema is exactly this newsbot's (run `newsbot db upgrade` otherwise)."""
    current = version(conn)
    if current < LATEST:
        raise DatabaseError(f"the database is at schema {current}, this newsbot needs {LATEST}: run `newsbot db upgrade`")
    if current > LATEST:
        raise DatabaseError(f"the database is at schema {current}, newer than this newsbot's {LATEST}: upgrade newsbot")
