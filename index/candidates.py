"""Candidate passages for a question: dense, sentence and keyword retrievers, each candidate scored
by every signal and fused into one score; articles published in the span a question's time words
name are lifted."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date

import numpy as np

from .generations import Generation
from .keywords import phrase_query
from .ranking import RRF_K, Ranking
from .recency import is_fresh, parse_day


@dataclass
class Candidate:
    """A passage in the running, with its signals; rescoring fills in the row and the highlight."""

    pid: int
    dense: float = 0.0  # passage cosine
    keyword: float = 0.0  # BM25
    score: float = 0.0
    row: dict | None = None
    highlight: str = ""
    highlight_span: tuple[int, int] = (0, 0)  # offsets of the highlight in the article text
    highlight_index: int = -1  # which of the passage's sentences is highlighted
    match: float = 0.0  # best sentence's share of the question's IDF mass
    sentence_dense: float = 0.0  # cosine of the passage's closest sentence to the question


def passages_with(conn: sqlite3.Connection, phrases: list[str]) -> set[int]:
    """Ids of the passages whose text holds every quoted phrase, found by FTS5."""
    rows = conn.execute("SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?", (phrase_query(phrases, "body"),))
    return {row[0] for row in rows}


def gather(
    files: Generation,
    stems: list[str],
    query: np.ndarray,
    ranking: Ranking,
    allowed: set[int] | None = None,
    earlier_stems: list[str] | None = None,
    earlier_weight: float = 0.0,
) -> list[Candidate]:
    """Dense, sentence and keyword candidates (only `allowed` passages, when given), scored by every signal, fused.

    `earlier_stems` (a thread's earlier questions) add their BM25 score at `earlier_weight`.
    """
    vectors, keywords, sentences = files.vectors, files.keywords, files.sentences
    found: dict[int, Candidate] = {}

    def add(pid: int) -> None:
        if pid not in found:
            found[pid] = Candidate(pid, dense=float(vectors.reconstruct(pid) @ query))

    if vectors.ntotal and ranking.dense > 0:
        for pid, score in vectors.nearest(query, ranking.candidates, allowed):
            found[pid] = Candidate(pid, dense=score)
    if allowed is not None and not stems:  # a quoted phrase of stop words only: no keyword ranking
        for pid in sorted(allowed)[: ranking.candidates]:
            add(pid)
    if ranking.sentence_candidates > 0:  # passages with one sentence close to the question
        for pid, _, _ in sentences.search(query, ranking.sentence_candidates):
            if allowed is None or pid in allowed:
                add(pid)
    if (stems or earlier_stems) and ranking.keyword > 0 and len(keywords):
        bm25 = keywords.scores(stems)  # every passage's score: dense candidates get theirs too
        if earlier_stems and earlier_weight > 0:
            bm25 = bm25 + earlier_weight * keywords.scores(earlier_stems)
        if allowed is not None:
            ranked_scores = np.full_like(bm25, -1.0)
            positions = keywords.positions(sorted(allowed))
            positions = positions[positions >= 0]
            ranked_scores[positions] = bm25[positions]
        else:
            ranked_scores = bm25
        n = min(ranking.candidates, len(bm25))
        top = np.argpartition(-ranked_scores, n - 1)[:n]
        for pid in keywords.ids[top[ranked_scores[top] > 0]].tolist():
            add(pid)
        positions = keywords.positions(list(found))
        for cand, position in zip(found.values(), positions.tolist()):
            cand.keyword = float(bm25[position]) if position >= 0 else 0.0
    candidates = list(found.values())
    if candidates and ranking.sentence_dense > 0:
        best = sentences.best_cosines([c.pid for c in candidates], query)
        for cand, cosine in zip(candidates, best.tolist()):
            cand.sentence_dense = cand.dense if np.isnan(cosine) else cosine
    _fuse(candidates, ranking)
    return candidates


def _fuse(candidates: list[Candidate], ranking: Ranking) -> None:
    """Set each candidate's score: weighted min-max normalized signals, or reciprocal rank fusion."""
    if not candidates:
        return
    if ranking.fusion == "rrf":
        for weight, signal in ((ranking.dense, "dense"), (ranking.keyword, "keyword")):
            order = sorted(candidates, key=lambda c: getattr(c, signal), reverse=True)
            for rank, cand in enumerate(order, 1):
                cand.score += weight / (RRF_K + rank)
        return
    top_keyword = max(c.keyword for c in candidates) or 1.0
    low = min(c.dense for c in candidates)
    spread = (max(c.dense for c in candidates) - low) or 1.0
    low_sentence = min(c.sentence_dense for c in candidates)
    spread_sentence = (max(c.sentence_dense for c in candidates) - low_sentence) or 1.0
    for cand in candidates:
        cand.score = (
            ranking.dense * (cand.dense - low) / spread
            + ranking.keyword * cand.keyword / top_keyword
            + ranking.sentence_dense * (cand.sentence_dense - low_sentence) / spread_sentence
        )


def favour_fresh(conn: sqlite3.Connection, candidates: list[Candidate], asked: date, window: int, weight: float) -> None:
    """Raise candidates whose article was published within `window` days before `asked`."""
    marks = ",".join("?" * len(candidates))
    published = dict(
        conn.execute(
            f"SELECT p.id, a.published FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id IN ({marks})",
            [c.pid for c in candidates],
        )
    )
    for cand in candidates:
        if is_fresh(parse_day(published.get(cand.pid)), asked, window):
            cand.score += weight
