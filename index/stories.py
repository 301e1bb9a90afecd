"""Group articles into stories for a digest: articles whose leads say the same thing are one story,
ranked by how many sources carry it, then by how recent it is; each quoted by its lead sentence.

An article's lead is its first passage; two leads whose vectors have a cosine of at least
`SAME_STORY` are the same story (measured on RealTimeQA 2022: docs/benchmarks.md).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

import faiss
import numpy as np

from .links import passage_link
from .results import ArticleInfo

SAME_STORY = 0.7  # cosine between two articles' lead passages that makes them one story
MIN_LEAD_WORDS = 5  # shorter first "sentences" are datelines or headings, not the lead


@dataclass
class Story:
    """One story: its lead article and lead sentence (verbatim, `text[start:end]`), and every article carrying it."""

    lead: ArticleInfo
    sentence: str
    start: int
    end: int
    link: str
    articles: list[ArticleInfo] = field(default_factory=list)  # the lead first

    @property
    def sources(self) -> list[str]:
        """The distinct sources carrying the story (titles for articles without one)."""
        return list(dict.fromkeys(a.source or a.title for a in self.articles))


def group(
    conn: sqlite3.Connection, vectors: faiss.Index, article_ids: set[str], limit: int, public_url: str | None
) -> list[Story]:
    """The top `limit` stories among `article_ids` (read in the caller's transaction, with its generation's vectors)."""
    if not article_ids:
        return []
    rows = conn.execute(
        """SELECT p.id, p.start, p.sentences, a.id, a.title, a.source, a.url, a.published, a.path, a.text
           FROM passages p JOIN articles a ON a.id = p.article_id
           WHERE p.ord = 0 AND a.id IN (SELECT value FROM json_each(?))""",
        (json.dumps(sorted(article_ids)),),
    ).fetchall()
    if not rows:
        return []
    leads = vectors.reconstruct_batch(np.asarray([row[0] for row in rows], dtype=np.int64))
    # newest first, so each story's lead is its most recent article
    order = sorted(range(len(rows)), key=lambda i: (rows[i][7] or "", rows[i][3]), reverse=True)
    stories: list[tuple[Story, np.ndarray]] = []
    for i in order:
        pid, start, spans, aid, title, source, url, published, path, text = rows[i]
        article = ArticleInfo(aid, title, source, url, published, path)
        home = next((story for story, vector in stories if float(vector @ leads[i]) >= SAME_STORY), None)
        if home is not None:
            home.articles.append(article)
            continue
        first = _lead_sentence(text, title, json.loads(spans) or [(start, start)])
        sentence = text[first[0] : first[1]]
        link = passage_link(sentence, first[0], first[1], aid, url, path, public_url, passage=tuple(first))
        stories.append((Story(article, sentence, first[0], first[1], link, [article]), leads[i]))
    ranked = sorted(
        (story for story, _ in stories), key=lambda s: (len(s.sources), s.lead.published or ""), reverse=True
    )
    return ranked[:limit]


def _lead_sentence(text: str, title: str, spans: list) -> tuple[int, int]:
    """The span of the first sentence that is news: not the headline repeated, not a few stray words."""
    headline = " ".join(title.split()).casefold()
    for begin, end in spans:
        words = text[begin:end].split()
        if len(words) >= MIN_LEAD_WORDS and " ".join(words).casefold() != headline:
            return begin, end
    return tuple(spans[0])
