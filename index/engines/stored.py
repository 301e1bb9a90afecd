"""What the index reports about itself and hands out whole, whatever engine stores it."""

from __future__ import annotations

from dataclasses import dataclass, field

from index.quotes.results import ArticleInfo


@dataclass
class Stats:
    """What the index holds, for `newsbot stats`, `/news stats` and App Home."""

    articles: int
    passages: int
    sources: int
    newest_title: str | None
    newest_published: str | None
    model: str
    size_bytes: int
    updated_at: str | None
    generation: int
    # Per source (by article count): name, articles, first and last publication day — what to filter on.
    source_list: list[tuple[str, int, str | None, str | None]] = field(default_factory=list)
    reader: str = ""  # the reader's status (`Index.reader_status`): "on", "off (…)" or why it is unavailable


@dataclass
class StoredArticle:
    """An article as stored, with its passages' spans (for the article page)."""

    info: ArticleInfo
    text: str
    passages: list[tuple[int, int]]


def read_stats(conn, meta: dict[str, str], size_bytes: int, fallback_model: str) -> Stats:
    """Stats from a connection of either engine (a DB-API `execute`), inside the caller's read transaction."""
    articles, sources = conn.execute("SELECT count(*), count(DISTINCT source) FROM articles").fetchone()
    passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
    newest = conn.execute(
        "SELECT title, published FROM articles ORDER BY coalesce(published, '') DESC, added_at DESC LIMIT 1"
    ).fetchone()
    source_list = conn.execute(
        """SELECT coalesce(source, '(no source)'), count(*), min(substr(published, 1, 10)), max(substr(published, 1, 10))
           FROM articles GROUP BY coalesce(source, '(no source)') ORDER BY count(*) DESC, 1"""
    ).fetchall()
    return Stats(
        articles=articles,
        passages=passages,
        sources=sources,
        newest_title=newest[0] if newest else None,
        newest_published=newest[1] if newest else None,
        model=meta.get("model", fallback_model),
        size_bytes=size_bytes,
        updated_at=meta.get("updated_at"),
        generation=int(meta.get("generation", 0)),
        source_list=[tuple(row) for row in source_list],
    )
