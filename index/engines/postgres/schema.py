"""The index's tables in PostgreSQL as numbered migrations, and the runner that applies any part's.

Versions are kept per part (the index, intake's feeds, the bot) in `newsbot_schema`; every upgrade runs in one
transaction under an advisory lock, so two processes upgrading at once apply each step once. Databases from
before parts kept one numbered list in `newsbot_migrations` (1 to 6): every step of it is written here with IF
NOT EXISTS, so such a database takes them as no-ops, and its list gains a 7th entry that makes an older
newsbot refuse the database rather than write it in an old shape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.engines.common import EF_CONSTRUCTION, HNSW_NEIGHBORS
from index.engines.postgres.connection import connect
from index.engines.state import Migration, pending
from index.errors import DatabaseError

# A posting's BM25 weight without the IDF, at a typical length (k1 1.2, b 0.75): what the impact index orders by.
IMPACT = "(tf::real / (tf + 1.2 * (0.25 + 0.75 * length / 100.0)))"
MIGRATION_LOCK = 0x6E657773626F74  # "newsbot": the advisory lock every upgrade takes
INDEX = "index"
# A graph built over existing rows is built in memory when it fits (a 65k-passage sentence graph: 146 s with the
# server's default 64 MB, 46 s with this), for the transaction that builds it only.
GRAPH_MEMORY = "SET LOCAL maintenance_work_mem = '1GB'"
OLD_LIST_END = 7  # `newsbot_migrations`' entry past every number an older newsbot knows


def indexed_dimension(conn) -> int | None:
    """The dimension the HNSW indexes are made for (None before the first commit)."""
    made = conn.execute("SELECT value FROM index_meta WHERE key = 'hnsw_dimension'").fetchone()
    return int(made[0]) if made else None


def make_graph(conn, table: str, dimension: int) -> None:
    """`table`'s HNSW index over its halfvec `embedding` of `dimension` (inner product on unit vectors)."""
    conn.execute(GRAPH_MEMORY)
    conn.execute(
        f"CREATE INDEX {table}_hnsw ON {table} USING hnsw ((embedding::halfvec({dimension})) halfvec_ip_ops) "
        f"WITH (m = {HNSW_NEIGHBORS // 2}, ef_construction = {EF_CONSTRUCTION})"
    )


def make_sentence_graph(conn, dimension: int, name: str = "sentences_hnsw") -> None:
    """The sentences' HNSW index, over each vector's signs (`binary_quantize`: 48 bytes for 384 dimensions): the
    nearest sentences by Hamming distance, scored again on their rows (`snapshot.PgSentences.search`). Over the
    halfvec rows themselves it was the database's largest part (7.2 KB a passage at 65k, against 2.1) and most of a
    large build's time; only the optional sentence retriever walks it."""
    conn.execute(GRAPH_MEMORY)
    conn.execute(
        f"CREATE INDEX {name} ON sentences USING hnsw "
        f"((binary_quantize(embedding)::bit({dimension})) bit_hamming_ops) "
        f"WITH (m = {HNSW_NEIGHBORS // 2}, ef_construction = {EF_CONSTRUCTION})"
    )


def _sentence_signs(conn) -> None:
    """Schema 7: the sentences' graph made again over their signs (`make_sentence_graph`), and the postings' primary
    key dropped (2.9 KB a passage: no statement reads it, and the writer aggregates each stem once a passage).

    The new graph is built under another name first: building takes a lock that lets questions read on (about a
    minute at 65k passages, more on a larger index), and the locks that stop them, to drop the old graph and the key,
    are taken only for the moment before the commit, so processes still serving keep answering meanwhile.
    """
    dimension = indexed_dimension(conn)
    if dimension:
        make_sentence_graph(conn, dimension, name="sentences_signs")
    conn.execute("DROP INDEX IF EXISTS sentences_hnsw")
    if dimension:
        conn.execute("ALTER INDEX sentences_signs RENAME TO sentences_hnsw")
    conn.execute("ALTER TABLE postings DROP CONSTRAINT IF EXISTS postings_pkey")


def _half_precision_passages(conn) -> None:
    """Store passage vectors as halfvec and make their HNSW index again, for the dimension it was made for."""
    dimension = indexed_dimension(conn)
    conn.execute("DROP INDEX IF EXISTS passages_hnsw")
    conn.execute("ALTER TABLE passages ALTER COLUMN embedding TYPE halfvec USING embedding::halfvec")
    if dimension:
        make_graph(conn, "passages", dimension)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "index tables",
        # Vectors are stored unsized; the HNSW indexes, which need a size, are made on the first commit
        # for the model's dimension (`writer`). `length` (stems in title + passage) and the postings
        # give BM25 from term statistics, read in the reader's own snapshot.
        """CREATE EXTENSION IF NOT EXISTS vector;
           CREATE TABLE IF NOT EXISTS index_meta (key text PRIMARY KEY, value text NOT NULL);
           CREATE TABLE IF NOT EXISTS index_files (path text PRIMARY KEY, size bigint NOT NULL, mtime_ns bigint NOT NULL);
           CREATE TABLE IF NOT EXISTS articles (
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
           CREATE INDEX IF NOT EXISTS articles_path ON articles (path);
           CREATE TABLE IF NOT EXISTS passages (
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
           CREATE INDEX IF NOT EXISTS passages_article ON passages (article_id);
           CREATE INDEX IF NOT EXISTS passages_embed_hash ON passages (embed_hash);
           CREATE INDEX IF NOT EXISTS passages_body ON passages USING gin (to_tsvector('english', body));
           CREATE TABLE IF NOT EXISTS postings (
               stem text NOT NULL,
               passage_id bigint NOT NULL REFERENCES passages (id) ON DELETE CASCADE,
               tf integer NOT NULL,
               length integer NOT NULL,
               PRIMARY KEY (stem, passage_id)
           );
           CREATE INDEX IF NOT EXISTS postings_passage ON postings (passage_id);
           CREATE TABLE IF NOT EXISTS sentences (
               passage_id bigint NOT NULL REFERENCES passages (id) ON DELETE CASCADE,
               ord integer NOT NULL,
               embedding halfvec NOT NULL,
               PRIMARY KEY (passage_id, ord)
           );
           CREATE TABLE IF NOT EXISTS embeddings (
               model text NOT NULL,
               hash bytea NOT NULL,
               vector bytea NOT NULL,
               sentences bytea NOT NULL,
               PRIMARY KEY (model, hash)
           );
           CREATE TABLE IF NOT EXISTS arrivals (
               seq bigserial PRIMARY KEY,
               article_id text NOT NULL,
               generation integer NOT NULL,
               arrived_at text NOT NULL
           );""",
    ),
    Migration(
        2,
        "postings by impact",
        # Each stem's postings in the order of their BM25 weight (tf saturated by length, at a typical
        # length of 100 stems): a question reads only the strongest postings of its common words
        # (`snapshot.PgKeywords`), not all of them. The expression must match IMPACT there.
        f"CREATE INDEX IF NOT EXISTS postings_impact ON postings (stem, {IMPACT} DESC) INCLUDE (passage_id, tf, length)",
    ),
    Migration(
        3,
        "sentence words",
        # Each sentence's stems and names (`sentence_words`), so a question does not tokenize them; rows
        # written before are read from their text until the next update fills them (`writer`).
        """ALTER TABLE passages ADD COLUMN IF NOT EXISTS words text;
           CREATE INDEX IF NOT EXISTS passages_unworded ON passages (id) WHERE words IS NULL;""",
    ),
    Migration(
        4,
        "each vector stored once",
        # The cache keeps only vectors an update has not committed (`writer.tidy`); committed ones are read from
        # their passage and sentence rows.
        "DELETE FROM embeddings e USING passages p WHERE p.embed_hash = e.hash",
    ),
    Migration(
        5,
        "passage vectors in half precision",
        # As the folder's graph keeps them: answers as with float32 on RealTimeQA 2022, half the space
        # (`benchmarks/vector_storage.py`). The HNSW index is made again for the new type.
        run=_half_precision_passages,
    ),
    Migration(
        6,
        "stem counts",
        # How many passages hold each stem, kept by the writer in the transaction that writes the postings
        # (`writer.count_stems`): a question reads its stems' IDF by key, where it counted their postings (a common
        # stem's tens of thousands of rows, 2-13 ms a question at 65k passages).
        """CREATE TABLE IF NOT EXISTS stem_counts (stem text PRIMARY KEY, passages integer NOT NULL);
           INSERT INTO stem_counts (stem, passages) SELECT stem, count(*) FROM postings GROUP BY stem
           ON CONFLICT (stem) DO UPDATE SET passages = excluded.passages;""",
    ),
    Migration(
        7,
        "sentences found by their signs",
        # A database of 65k passages: 28.6 -> 20.7 KB a passage (`_sentence_signs`); the graph is made again in about a
        # minute there.
        run=_sentence_signs,
    ),
)
LATEST = MIGRATIONS[-1].version


def versions(conn) -> dict[str, int]:
    """Each part's version in this database (a part newsbot never upgraded is missing)."""
    if not conn.execute("SELECT to_regclass('newsbot_schema') IS NOT NULL").fetchone()[0]:
        return {}
    return dict(conn.execute("SELECT part, version FROM newsbot_schema").fetchall())


def upgrade(url: str, parts: Sequence[tuple[str, Sequence[Migration]]] = ((INDEX, MIGRATIONS),)) -> list[tuple[str, Migration]]:
    """Apply what each `(part, migrations)` lacks, in one transaction under the advisory lock; (part, step) applied.

    A second process upgrading at the same moment waits for the lock, then finds nothing left to do. A part
    already past this newsbot's migrations is refused (`DatabaseError`) rather than written in an old shape, and
    a role that may not make what a step makes gets one line naming the right and the SQL that grants it.
    """
    import psycopg

    with connect(url) as conn:
        try:
            with conn.transaction():
                return _apply(conn, parts)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise DatabaseError(missing_right(conn.info.user, conn.info.dbname, exc.diag.message_primary or "")) from None


def _apply(conn, parts: Sequence[tuple[str, Sequence[Migration]]]) -> list[tuple[str, Migration]]:
    """The upgrade's steps, inside its transaction (see `upgrade`)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
    conn.execute(
        """CREATE TABLE IF NOT EXISTS newsbot_schema (
               part text PRIMARY KEY, version integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"""
    )
    conn.execute(
        """CREATE TABLE IF NOT EXISTS newsbot_migrations (
               version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    conn.execute(
        "INSERT INTO newsbot_migrations (version, name) VALUES (%s, 'versions per part: newsbot_schema') ON CONFLICT DO NOTHING",
        (OLD_LIST_END,),
    )
    current, applied = versions(conn), []
    for part, migrations in parts:
        try:
            steps = pending(migrations, current.get(part, 0), part)
        except ValueError as exc:
            raise DatabaseError(str(exc)) from None
        for migration in steps:
            if migration.sql:
                conn.execute(migration.sql)
            if migration.run is not None:
                migration.run(conn)
            applied.append((part, migration))
        if steps:
            conn.execute(
                """INSERT INTO newsbot_schema (part, version) VALUES (%s, %s)
                   ON CONFLICT (part) DO UPDATE SET version = excluded.version, updated_at = now()""",
                (part, steps[-1].version),
            )
    return applied


def missing_right(role: str, database: str, reason: str) -> str:
    """One line for a role PostgreSQL refused: which right newsbot's tables need, and the SQL an admin runs."""
    if "extension" in reason:
        grant = f"CREATE EXTENSION IF NOT EXISTS vector;  -- as a superuser, in database {database}"
    elif "schema" in reason:
        grant = f"GRANT CREATE ON SCHEMA public TO {role};"
    elif (owner := re.match(r"must be owner of (?:table|relation|index) (\S+)", reason)) is not None:
        grant = f"ALTER TABLE {owner.group(1)} OWNER TO {role};"
    else:
        grant = f"GRANT ALL ON SCHEMA public TO {role};"
    return f"the role {role} may not make newsbot's tables in {database} ({reason}); an admin runs: {grant}"


def require_current(conn, part: str = INDEX, migrations: Sequence[Migration] = MIGRATIONS) -> None:
    """`DatabaseError` unless `part` is exactly at this newsbot's version (run `newsbot db upgrade` otherwise)."""
    current, latest = versions(conn).get(part, 0), migrations[-1].version
    if current < latest:
        raise DatabaseError(f"the database's {part} tables are at version {current}, this newsbot needs {latest}: run `newsbot db upgrade`")
    if current > latest:
        raise DatabaseError(f"the database's {part} tables are at version {current}, newer than this newsbot's {latest}: upgrade newsbot")
