"""Candidate passages for a question: dense, sentence and keyword retrievers, each candidate scored
by every signal and fused into one score; articles published in the span a question's time words
name are lifted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from .ranking import RRF_K, Ranking
from .published_days import PublishedDays
from .snapshot import Snapshot


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


def gather(
    files: Snapshot,
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
    unscored: list[Candidate] = []  # found by another retriever: their cosine is read in one batch below

    def add(pid: int) -> None:
        if pid not in found:
            found[pid] = Candidate(pid)
            unscored.append(found[pid])

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
        # The keyword retriever's own top candidates, and the BM25 score of every candidate found so far too.
        top, scores = keywords.best(stems, ranking.candidates, allowed, list(found), earlier_stems or [], earlier_weight)
        for pid in top:
            add(pid)
        for cand in found.values():
            cand.keyword = scores.get(cand.pid, 0.0)
    if unscored:
        cosines = vectors.reconstruct_batch(np.asarray([c.pid for c in unscored], dtype=np.int64)) @ query
        for cand, cosine in zip(unscored, cosines.tolist()):
            cand.dense = float(cosine)
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


def favour_fresh(days: PublishedDays, candidates: list[Candidate], asked: date, window: int, weight: float) -> None:
    """Raise candidates whose article was published within `window` days before `asked`."""
    for cand, fresh in zip(candidates, days.fresh([c.pid for c in candidates], asked, window).tolist()):
        if fresh:
            cand.score += weight
