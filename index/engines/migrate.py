"""Copy an index folder into PostgreSQL (`newsbot migrate --to URL`): articles, passages, their vectors and
the embedding cache exactly as stored, so nothing is re-embedded; committed as one update, like any other."""

from __future__ import annotations

import json
from dataclasses import dataclass

from index.indexing.passages import Passage
from index.engines.postgres.writer import PgWriter
from index.engines.postgres.database import DatabaseError, redact
from index.reading.article import Article
from index.engines.folder.store import Store
from index.engines.writer import Change

CACHE_CHUNK = 500  # cached vectors copied per transaction


@dataclass
class _Copied:
    """An article as the writer takes it (what `indexer._Planned` carries)."""

    article: Article


@dataclass
class Migrated:
    """What was copied."""

    articles: int
    passages: int
    target: str

    def line(self) -> str:
        return f"copied {self.articles} articles and {self.passages} passages (no re-embedding) into {self.target}"


def migrate(store: Store, url: str) -> Migrated:
    """Copy the committed index in `store` into the empty PostgreSQL database at `url`.

    `DatabaseError` when the folder holds no index, when vectors are missing from its cache, or when the
    database already holds an index (it is never overwritten).
    """
    if not store.exists():
        raise DatabaseError(f"no index in {store.directory} to copy; run `newsbot index` first")
    with store.connection() as conn:
        conn.execute("BEGIN")  # one consistent version, even while an update commits
        try:
            meta = Store.meta(conn)
            model = meta["model"]
            articles = {
                row[0]: _Copied(Article(id=row[0], title=row[1], text=row[6], url=row[2], source=row[3], published=row[4], path=row[5]))
                for row in conn.execute("SELECT id, title, url, source, published, path, text FROM articles")
            }
            passages = conn.execute(
                "SELECT id, article_id, ord, start, end, sentences, embed_hash FROM passages ORDER BY id"
            ).fetchall()
            vectors = Store.cached_vectors(conn, model, sorted({bytes(row[6]) for row in passages}))
            files = {path: (size, mtime) for path, size, mtime in conn.execute("SELECT path, size, mtime_ns FROM files")}
        finally:
            conn.execute("COMMIT")
    missing = {bytes(row[6]) for row in passages} - set(vectors)
    if missing:
        raise DatabaseError(f"{len(missing)} passage vectors are not in the index's cache; run `newsbot index` first")
    rows = [
        (pid, articles[aid], ordinal, Passage(start, end, tuple(tuple(s) for s in json.loads(spans))), bytes(digest))
        for pid, aid, ordinal, start, end, spans, digest in passages
    ]
    writer = PgWriter(url)
    with writer.session(wait=0):
        if writer.state().generation:
            raise DatabaseError(f"{redact(url)} already holds an index; migrate into an empty database")
        items = [(digest, vector, sentences) for digest, (vector, sentences) in vectors.items()]
        for i in range(0, len(items), CACHE_CHUNK):
            writer.cache_vectors(model, items[i : i + CACHE_CHUNK])
        change = Change(
            full=True, planned=list(articles.values()), removed=[], rows=rows, vectors=vectors, fingerprints=files,
            generation=int(meta["generation"]), next_passage_id=int(meta.get("next_passage_id", 1)),
            signature=meta["signature"], model=model, dimension=int(meta["dimension"]),
        )
        count = writer.commit(change, progress=False)
    return Migrated(len(articles), count, redact(url))
