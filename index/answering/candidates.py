"""Candidate passages for a question: dense, sentence and keyword retrievers, each candidate scored
by every signal and fused into one score (its cosine taken again against the question moved toward the
best candidates); articles published in the span a question's time words name are lifted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from index.answering.published_days import PublishedDays
from index.answering.ranking import RRF_K, Ranking
from index.engines.snapshot import Snapshot

# Feedback averages the best candidates only when they are at most a fifth of all found: among fewer (a
# tiny corpus, a narrow filter) the "best" are most of what there is, and their mean says nothing.
FEEDBACK_POOL = 5


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
    reading: float | None = None  # the reader's logit for title + passage (None: not read)
    sentence_readings: list[float] | None = None  # the reader's logit for each of its sentences (None: not read)


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
    candidates = list(found.values())
    feedback = ranking.feedback > 0 and ranking.dense > 0 and len(candidates) >= FEEDBACK_POOL * ranking.feedback
    # One read of the vectors: every candidate's when feedback needs them all, else only those without a cosine.
    read = candidates if feedback else unscored
    matrix = vectors.reconstruct_batch(np.asarray([c.pid for c in read], dtype=np.int64)) if read else None
    if unscored:
        missing = {c.pid for c in unscored}
        for cand, cosine in zip(read, (matrix @ query).tolist()):
            if cand.pid in missing:
                cand.dense = float(cosine)
    if candidates and ranking.sentence_dense > 0:
        best = sentences.best_cosines([c.pid for c in candidates], query)
        for cand, cosine in zip(candidates, best.tolist()):
            cand.sentence_dense = cand.dense if np.isnan(cosine) else cosine
    fuse(candidates, ranking)
    if feedback:
        fuse(candidates, ranking, feedback_cosines(matrix, candidates, query, ranking))
    return candidates


def feedback_cosines(
    matrix: np.ndarray, candidates: list[Candidate], query: np.ndarray, ranking: Ranking
) -> list[float]:
    """Each candidate's cosine to the question moved toward the mean vector of the `ranking.feedback` best fused
    ones (pseudo-relevance feedback): what the best passages share, the story's names and words, counts too.

    `matrix` holds the candidates' vectors, row for row. Only the fusion reads these cosines; `Candidate.dense`
    keeps the question's own, which abstention weighs (the moved vector is close to whatever was found,
    related or not).
    """
    best = np.argsort([-c.score for c in candidates], kind="stable")[: ranking.feedback]
    moved = query + ranking.feedback_weight * matrix[best].mean(axis=0)
    moved /= np.linalg.norm(moved) or 1.0
    return (matrix @ moved.astype(np.float32)).tolist()


def fuse(candidates: list[Candidate], ranking: Ranking, dense: list[float] | None = None) -> None:
    """Set each candidate's score: weighted min-max normalized signals, or reciprocal rank fusion.

    `dense` replaces the candidates' own cosines (in their order) when given.
    """
    if not candidates:
        return
    cosines = dense if dense is not None else [c.dense for c in candidates]
    if ranking.fusion == "rrf":
        for cand in candidates:
            cand.score = 0.0
        for weight, signal in ((ranking.dense, cosines), (ranking.keyword, [c.keyword for c in candidates])):
            order = sorted(range(len(candidates)), key=signal.__getitem__, reverse=True)
            for rank, at in enumerate(order, 1):
                candidates[at].score += weight / (RRF_K + rank)
        return
    top_keyword = max(c.keyword for c in candidates) or 1.0
    low = min(cosines)
    spread = (max(cosines) - low) or 1.0
    low_sentence = min(c.sentence_dense for c in candidates)
    spread_sentence = (max(c.sentence_dense for c in candidates) - low_sentence) or 1.0
    for cand, cosine in zip(candidates, cosines):
        cand.score = (
            ranking.dense * (cosine - low) / spread
            + ranking.keyword * cand.keyword / top_keyword
            + ranking.sentence_dense * (cand.sentence_dense - low_sentence) / spread_sentence
        )


def favour_fresh(days: PublishedDays, candidates: list[Candidate], asked: date, window: int, weight: float) -> None:
    """Raise candidates whose article was published within `window` days before `asked`."""
    for cand, fresh in zip(candidates, days.fresh([c.pid for c in candidates], asked, window).tolist()):
        if fresh:
            cand.score += weight
