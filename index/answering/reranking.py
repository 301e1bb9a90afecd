"""The reader's turn: the best rescored candidates read with the question by the cross-encoder
(`models.cross_encoder`), which tells a passage that answers from one that only shares its words.

Two stages, so the cost stays near a fixed number of tokens whatever the corpus: the best `rerank` candidates
are read as title + passage (cut to `rerank_tokens` tokens of the pair) and reordered by their z-scored reading
plus the z-scored fused score; the best `rerank_sentences` of that order are then read sentence by sentence,
and the reading of each one's best sentence joins their order. A passage's own reading stays on its candidate
(`Candidate.reading`): abstention and follows weigh it. Weights: `ranking.Ranking`, measured in
docs/benchmarks.md ("The reader").
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from index.answering.candidates import Candidate
from index.answering.ranking import Ranking
from index.answering.recurring import recurrence, recurring_names
from index.models.cross_encoder import CrossEncoder, ReaderUnavailable

log = logging.getLogger(__name__)

WAIT_SECONDS = 20.0  # how long a question waits for its turn at the reader before it is answered without it


class Scorer(Protocol):
    """What reranking needs of a cross-encoder (benchmarks give one that reads from a cache)."""

    def score(self, question: str, texts: list[str], max_tokens: int) -> np.ndarray: ...


def _z(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / (spread if spread > 1e-9 else 1.0)


def passage_text(cand: Candidate, title: bool) -> str:
    """What the reader reads of a passage: the passage, after its article's title when `title`."""
    return f"{cand.row['article'].title}. {cand.row['quote']}" if title else cand.row["quote"]


def rerank(
    scorer: Scorer, question: str, ranked: list[Candidate], ranking: Ranking, asked: frozenset[str] = frozenset()
) -> list[Candidate]:
    """`ranked` with its best `ranking.rerank` candidates reordered by the reader (the rest keep their order);
    `asked`: the question's words, which recurring names must not be."""
    head = [c for c in ranked[: ranking.rerank] if c.row is not None]
    if not head:
        return ranked
    readings = scorer.score(question, [passage_text(c, ranking.rerank_title) for c in head], ranking.rerank_tokens).astype(float)
    fused = _z(np.asarray([c.score for c in head], dtype=float))
    first = ranking.rerank_passage * _z(readings) + ranking.rerank_fused * fused
    order = list(np.argsort(-first, kind="stable"))
    for cand, reading in zip(head, readings.tolist()):
        cand.reading = reading
    top = order[: ranking.rerank_sentences]
    if len(top) > 1 and ranking.rerank_sentence > 0:
        best = np.asarray([_read_sentences(scorer, question, head[i], ranking) for i in top], dtype=float)
        second = first[top] + ranking.rerank_sentence * _z(best)
        order = [top[j] for j in np.argsort(-second, kind="stable")] + order[len(top):]
    reordered = [head[i] for i in order]
    if ranking.rerank_highlight is not None:
        depth = reordered[: ranking.redundancy_depth]
        recurring = recurring_names((c.row["sentence_words"] for c in depth), asked) if ranking.rerank_recurring else {}
        for i in top:
            _highlight(head[i], ranking, recurring)
    read = {id(c) for c in head}
    return reordered + [c for c in ranked if id(c) not in read]


def _highlight(cand: Candidate, ranking: Ranking, recurring: dict[str, float]) -> None:
    """Make the reader's best sentence the bold one when it reads `ranking.rerank_highlight` logits better than the
    ranking's pick, each sentence counting `ranking.rerank_recurring` logits for the names the best passages share."""
    readings = cand.sentence_readings
    if not readings or cand.highlight_index < 0:
        return
    words = cand.row["sentence_words"]
    scores = [r + ranking.rerank_recurring * recurrence(words[i], recurring) for i, r in enumerate(readings)]
    best = max(range(len(scores)), key=scores.__getitem__)
    if scores[best] - scores[cand.highlight_index] > ranking.rerank_highlight:
        cand.highlight, cand.highlight_span = cand.row["sentence_texts"][best], cand.row["sentence_spans"][best]
        cand.highlight_index = best


def _read_sentences(scorer: Scorer, question: str, cand: Candidate, ranking: Ranking) -> float:
    """Read each sentence of `cand`; keep their readings on it and return the best (a passage without
    sentences: its own reading)."""
    texts = cand.row["sentence_texts"]
    if not texts:
        return cand.reading if cand.reading is not None else 0.0
    cand.sentence_readings = scorer.score(question, list(texts), ranking.rerank_tokens).astype(float).tolist()
    return max(cand.sentence_readings)


class Reranker:
    """The reader as the searcher uses it: loaded once, taken in turns, and never a reason for a question to
    fail (unavailable, or busy past `wait`: the question is answered with the ranking alone)."""

    def __init__(self, cross_encoder: CrossEncoder | None, wait: float = WAIT_SECONDS) -> None:
        self.cross_encoder = cross_encoder
        self.wait = wait
        self.problem: str | None = None  # why the reader cannot be used, once known
        self._checked = False  # its files were found and checked

    def status(self) -> str:
        """"on", "off (NEWSBOT_READER=off)", or "unavailable: <why>" (what stats and App Home show); the model's
        files are checked (not loaded) the first time."""
        if self.cross_encoder is None:
            return "off (NEWSBOT_READER=off)"
        if self.problem is None and not self._checked:
            try:
                self.cross_encoder.check()
            except ReaderUnavailable as exc:
                self.problem = str(exc)
            self._checked = True
        return f"unavailable: {self.problem}" if self.problem else "on"

    def load(self) -> bool:
        """Load the model now (a serving process does it before its first question); False when unavailable."""
        if self.cross_encoder is None or self.problem:
            return False
        try:
            self.cross_encoder.load()
        except ReaderUnavailable as exc:
            self.problem = str(exc)
            log.warning("answering without the reader: %s", exc)
            return False
        return True

    def rerank(
        self, question: str, ranked: list[Candidate], ranking: Ranking, asked: frozenset[str] = frozenset()
    ) -> list[Candidate]:
        """`ranked` reordered by the reader, or as it is when the reader is off, unavailable or busy too long."""
        if ranking.rerank <= 0 or not self.load():
            return ranked
        with self.cross_encoder.slot(self.wait) as ready:
            if not ready:
                log.warning("the reader was busy for %.0f s; answered with the ranking alone", self.wait)
                return ranked
            try:
                return rerank(self.cross_encoder, question, ranked, ranking, asked)
            except Exception as exc:  # the runtime failing on one input must not fail the question
                log.warning("the reader failed (%s: %s); answered with the ranking alone", type(exc).__name__,
                            str(exc).splitlines()[0][:200] if str(exc) else "")
                for cand in ranked:
                    cand.reading, cand.sentence_readings = None, None
                return ranked
