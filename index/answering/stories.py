"""Group articles into stories for a digest: articles whose leads say the same thing are one story,
ranked by how many sources carry it, then by how recent it is; each quoted by its lead sentence.

An article's lead is its first passage; two leads whose vectors have a cosine of at least
`SAME_STORY` are the same story (measured on RealTimeQA 2022: docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from index.engines.snapshot import Snapshot
from index.quotes.links import passage_link
from index.quotes.results import ArticleInfo

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


def group(snapshot: Snapshot, article_ids: set[str], limit: int, public_url: str | None) -> list[Story]:
    """The top `limit` stories among `article_ids` (read in the caller's transaction, with its generation's vectors).

    Leader clustering, newest first: an article joins the first story whose lead it is close to,
    else leads a new one. One matrix-vector product per article against the leads so far.
    """
    if not article_ids:
        return []
    rows = snapshot.lead_passages(article_ids)
    if not rows:
        return []
    leads = snapshot.vectors.reconstruct_batch(np.asarray([row[0] for row in rows], dtype=np.int64))
    centres = np.empty_like(leads)  # the story leads' vectors, in story order
    members: list[list[int]] = []  # row numbers of each story's articles, the lead first
    for i in range(len(rows)):
        if members:
            close = np.nonzero(centres[: len(members)] @ leads[i] >= SAME_STORY)[0]
            if len(close):
                members[int(close[0])].append(i)
                continue
        centres[len(members)] = leads[i]
        members.append([i])
    articles = [ArticleInfo(*row[1:]) for row in rows]
    ranked = sorted(
        members,
        key=lambda m: (len({articles[i].source or articles[i].title for i in m}), articles[m[0]].published or ""),
        reverse=True,
    )[:limit]
    return [_story(snapshot, rows[m[0]][0], [articles[i] for i in m], public_url) for m in ranked]


def _story(snapshot: Snapshot, lead_passage: int, articles: list[ArticleInfo], public_url: str | None) -> Story:
    """A story quoted by its lead article's lead sentence (its text read only now, for the few stories shown)."""
    lead = articles[0]
    start, spans, text = snapshot.lead_text(lead_passage)
    begin, end = _lead_sentence(text, lead.title, spans or [(start, start)])
    sentence = text[begin:end]
    link = passage_link(sentence, begin, end, lead.id, lead.url, lead.path, public_url, passage=(begin, end))
    return Story(lead, sentence, begin, end, link, articles)


def _lead_sentence(text: str, title: str, spans: list) -> tuple[int, int]:
    """The span of the first sentence that is news: not the headline repeated, not a few stray words."""
    headline = " ".join(title.split()).casefold()
    for begin, end in spans:
        words = text[begin:end].split()
        if len(words) >= MIN_LEAD_WORDS and " ".join(words).casefold() != headline:
            return begin, end
    return tuple(spans[0])
