"""What the index reports about itself and hands out whole, whatever engine stores it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .results import ArticleInfo


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


@dataclass
class StoredArticle:
    """An article as stored, with its passages' spans (for the article page)."""

    info: ArticleInfo
    text: str
    passages: list[tuple[int, int]]
