"""The committed index of a folder as one full `Change`, with its vectors read back from its files: what
`engines.migrate` hands another engine's writer, so nothing is re-embedded."""

from __future__ import annotations

import json
from dataclasses import dataclass

from index.engines.folder.generations.reuse import CommittedVectors
from index.engines.folder.store import Store
from index.engines.writer import Change
from index.errors import DatabaseError, IndexCorrupt
from index.indexing.passages import Passage
from index.reading import Article


@dataclass
class _Copied:
    """An article as a writer takes it (what `indexer._Planned` carries)."""

    article: Article


def export(store: Store) -> Change:
    """The committed index in `store` as a full change; `DatabaseError` when there is none, or when its vectors
    cannot be read."""
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
                "SELECT id, article_id, ord, char_start, char_end, sentences, embed_hash FROM passages ORDER BY id"
            ).fetchall()
            try:
                vectors = CommittedVectors(store, int(meta["generation"]), {bytes(row[6]): row[0] for row in passages})
                if vectors.lacking:
                    raise ValueError(f"{vectors.lacking} passages have no vectors in its files")
            except (ValueError, IndexCorrupt) as exc:
                raise DatabaseError(f"cannot read the vectors of {store.directory} ({exc}); run `newsbot index --rebuild` first") from None
            files = {path: (size, mtime) for path, size, mtime in conn.execute("SELECT path, size, mtime_ns FROM files")}
        finally:
            conn.execute("COMMIT")
    rows = [
        (pid, articles[aid], ordinal, Passage(start, end, tuple(tuple(s) for s in json.loads(spans))), bytes(digest))
        for pid, aid, ordinal, start, end, spans, digest in passages
    ]
    return Change(
        full=True, planned=list(articles.values()), removed=[], rows=rows, vectors=vectors, fingerprints=files,
        generation=int(meta["generation"]), next_passage_id=int(meta.get("next_passage_id", 1)),
        signature=meta["signature"], model=model, dimension=int(meta["dimension"]),
    )
