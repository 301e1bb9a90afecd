"""Sentence-level rescoring of the best candidates: every sentence scored by meaning and rare words;
the best one becomes the highlight and lifts its passage."""

from __future__ import annotations

import numpy as np

from .candidates import Candidate
from .ranking import Ranking
from .sentence_words import QuestionTerms, new_names
from .snapshot import Snapshot

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
    `ranking.lead_passage` lifts a passage that opens its article.
    """
    ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
    head = ranked[:top]
    rows = snapshot.passage_rows([c.pid for c in head])
    meaning = ranking.sentence_meaning
    all_cosines = snapshot.sentences.cosines([c.pid for c in head], query)
    terms = QuestionTerms(weights)
    for cand, cosines in zip(head, all_cosines):
        cand.row = rows.get(cand.pid)
        if cand.row is None:
            continue
        if cand.row["opens_article"]:
            cand.score += ranking.lead_passage
        texts, spans, words = cand.row["sentence_texts"], cand.row["sentence_spans"], cand.row["sentence_words"]
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
        best = max(range(len(scores)), key=scores.__getitem__) if scores else -1
        best_score = scores[best] if scores else -1.0
        if best < 0:  # a passage without sentences: the passage is its own highlight
            cand.highlight, cand.highlight_span = cand.row["quote"], (cand.row["start"], cand.row["end"])
            continue
        cand.highlight, cand.highlight_span, cand.highlight_index = texts[best], spans[best], best
        if has_vectors:
            cand.sentence_dense = float(cosines.max())
        cand.score += ranking.sentence * max(best_score, 0.0)
    head.sort(key=lambda c: c.score, reverse=True)
    return head + ranked[top:]
