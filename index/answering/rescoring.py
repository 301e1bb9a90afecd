"""Sentence-level rescoring of the best candidates: every sentence scored by meaning and rare words;
the best one lifts its passage and, with the names the best passages share, picks the highlight."""

from __future__ import annotations

import numpy as np

from index.answering.candidates import Candidate
from index.answering.ranking import Ranking
from index.answering.recurring import recurrence, recurring_names
from index.engines.snapshot import Snapshot
from index.text.sentence_words import QuestionTerms, new_names

NOVELTY_CONTENDERS = 3  # sentences per passage whose new names and numbers are counted


def rescore(
    snapshot: Snapshot,
    query: np.ndarray,
    candidates: list[Candidate],
    weights: dict[str, float],
    top: int,
    ranking: Ranking,
    asked: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """Score every sentence of the `top` fused candidates; the best picks the highlight and adjusts the rank.

    A sentence's score fuses its meaning (cosine of its pooled vector to the question) with its
    share of the question's rare-word weight; `ranking.sentence_meaning` sets the balance, and
    `ranking.sentence_novelty` rewards names and numbers the question (words `asked`) lacks;
    `ranking.lead_passage` lifts a passage that opens its article. Once the passages are ranked, each one's
    highlight is its best sentence, counting the names the best passages share (`_highlight`).
    """
    ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
    head = ranked[:top]
    rows = snapshot.passage_rows([c.pid for c in head])
    meaning = ranking.sentence_meaning
    all_cosines = snapshot.sentences.cosines([c.pid for c in head], query)
    terms = QuestionTerms(weights)
    sentence_scores: dict[int, list[float]] = {}  # passage id -> its sentences' scores, for the highlight
    for cand, cosines in zip(head, all_cosines):
        cand.row = rows.get(cand.pid)
        if cand.row is None:
            continue
        if cand.row["opens_article"]:
            cand.score += ranking.lead_passage
        texts, words = cand.row["sentence_texts"], cand.row["sentence_words"]
        has_vectors = len(cosines) == len(texts) > 0
        if not has_vectors:
            cosines = np.zeros(len(texts), dtype=np.float32)
        scores = []
        for i, sentence in enumerate(words):
            match = terms.share(sentence)
            if match > cand.match:
                cand.match = match
            scores.append((1 - meaning) * match + meaning * float(cosines[i]))
        if ranking.sentence_novelty and scores:
            # Novelty only breaks near-ties, so it is counted for the few best sentences.
            for i in sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:NOVELTY_CONTENDERS]:
                scores[i] += ranking.sentence_novelty * new_names(words[i], asked)
        if not scores:  # a passage without sentences: the passage is its own highlight
            cand.highlight, cand.highlight_span = cand.row["quote"], (cand.row["start"], cand.row["end"])
            continue
        if has_vectors:
            cand.sentence_dense = float(cosines.max())
        cand.score += ranking.sentence * max(max(scores), 0.0)
        sentence_scores[cand.pid] = scores
    head.sort(key=lambda c: c.score, reverse=True)
    _highlight(head, sentence_scores, ranking, asked)
    return head + ranked[top:]


def _highlight(
    head: list[Candidate], sentence_scores: dict[int, list[float]], ranking: Ranking, asked: frozenset[str]
) -> None:
    """Pick each ranked passage's highlight: its best-scoring sentence, counting `ranking.redundancy` for the
    names the best passages hold in common that the question lacks (`recurring`)."""
    recurring: dict[str, float] = {}
    if ranking.redundancy:
        depth = head[: ranking.redundancy_depth]
        recurring = recurring_names((c.row["sentence_words"] for c in depth if c.pid in sentence_scores), asked)
    for cand in head:
        scores = sentence_scores.get(cand.pid)
        if scores is None:
            continue
        if recurring:  # only a sentence within `redundancy` of the best can overtake it: the others are not read
            words, reach = cand.row["sentence_words"], max(scores) - ranking.redundancy
            scores = [
                score + ranking.redundancy * recurrence(words[i], recurring) if score >= reach else score
                for i, score in enumerate(scores)
            ]
        best = max(range(len(scores)), key=scores.__getitem__)
        cand.highlight, cand.highlight_span = cand.row["sentence_texts"][best], cand.row["sentence_spans"][best]
        cand.highlight_index = best
