"""How far can the passages' order get with the signals it has? The fusion's weights searched on RealTimeQA 2022.

    .venv/bin/python benchmarks/ranking_ceiling.py

Asks the 449 questions once with the default ranking and keeps every candidate the retrievers found, with
its signals: the cosine to the question moved toward the best candidates (feedback) and the question's own,
BM25, the best sentence's score, whether it opens its article, whether the date lift applies (to a question
with time words, or without), and its coverage of the question's rare words anywhere in the passage (a
signal the default lacks). Then ranks the candidates under every setting of a grid of weights:

- fitted on all 449, the best settings bound what re-weighting these signals can give (an optimistic
  bound: 10,800 settings tried on the set they are judged on);
- fitted on the questions asked before 2022-09-22 and judged on the later ones, and the other way round,
  they show how much of that carries over to questions not fitted on (no other year is at hand).

Candidates are ranked as they stand, without folding duplicates into one answer, and the sentence score
counts for every candidate rather than the best 30: the default's own weights are a row of the same table,
so compare rows with each other, not with `rtqa.py`'s.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import replace

import numpy as np
from bench_index import BENCH, open_bench_index

from index.answering import rescoring, search
from index.answering.candidates import FEEDBACK_POOL, Candidate, feedback_cosines, fuse
from index.answering.evaluate import load_questions
from index.answering.ranking import DEFAULT_RANKING, Ranking
from index.questions.recency import fresh_window
from index.quotes.answers import to_answer
from index.text.sentence_words import QuestionTerms, SentenceWords

SIGNALS = ("moved", "own", "keyword", "sentence", "lead", "fresh_timed", "fresh_untimed", "coverage")
GRID = {  # BM25's weight is fixed: only the weights' ratios matter
    "moved": (0.2, 0.3, 0.4, 0.5, 0.6),
    "own": (0.0, 0.1, 0.2),
    "keyword": (0.6,),
    "sentence": (0.1, 0.2, 0.3, 0.4, 0.5),
    "lead": (0.0, 0.05, 0.1, 0.15),
    "fresh_timed": (0.1, 0.2, 0.3),
    "fresh_untimed": (0.0, 0.1, 0.15, 0.2),
    "coverage": (0.0, 0.1, 0.2),
}
SPLIT_DAY = "2022-09-22"  # the questions' median day asked: two halves of 219 and 230


def default_weights(ranking: Ranking = DEFAULT_RANKING) -> dict[str, float]:
    """The default ranking as weights of `SIGNALS`."""
    return {
        "moved": ranking.dense, "own": 0.0, "keyword": ranking.keyword, "sentence": ranking.sentence,
        "lead": ranking.lead_passage, "fresh_timed": ranking.recency, "fresh_untimed": ranking.untimed_recency,
        "coverage": 0.0,
    }


def _min_max(values: np.ndarray) -> np.ndarray:
    spread = values.max() - values.min()
    return (values - values.min()) / (spread or 1.0)


def signals(snapshot, query, candidates: list[Candidate], weights, ranking: Ranking, asked) -> tuple[np.ndarray, list]:
    """Each candidate's `SIGNALS` (a row each, on the fusion's scale) and its scored copy (with its passage row)."""
    pids = [c.pid for c in candidates]
    fused = [replace(c) for c in candidates]
    fuse(fused, ranking)
    moved = [c.dense for c in candidates]
    if ranking.feedback and len(candidates) >= FEEDBACK_POOL * ranking.feedback:
        matrix = snapshot.vectors.reconstruct_batch(np.asarray(pids, dtype=np.int64))
        moved = feedback_cosines(matrix, fused, query, ranking)
    fuse(fused, ranking, moved)
    fresh = np.array([c.score - f.score > 1e-9 for c, f in zip(candidates, fused)], dtype=float)
    # The best sentence's score alone: the real rescoring, from a zero score, with nothing else added.
    sentences_only = replace(ranking, sentence=1.0, lead_passage=0.0, redundancy=0.0)
    scored = [replace(c, score=0.0, match=0.0) for c in candidates]
    rescoring.rescore(snapshot, query, scored, weights, len(scored), sentences_only, asked)
    terms = QuestionTerms(weights)
    coverage = [
        terms.share(SentenceWords("".join(w.stems for w in c.row["sentence_words"]), "")) if c.row else 0.0
        for c in scored
    ]
    keyword = np.array([c.keyword for c in candidates])
    rows = np.column_stack([
        _min_max(np.array(moved, dtype=float)),
        _min_max(np.array([c.dense for c in candidates], dtype=float)),
        keyword / (keyword.max() or 1.0),
        np.array([c.score for c in scored]),
        np.array([bool(c.row and c.row["opens_article"]) for c in scored], dtype=float),
        fresh,
        fresh,
        np.array(coverage),
    ])
    return rows, scored


def collect(index, questions) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """Per question with a hit among its candidates: signals, which candidates are hits, the day asked."""
    kept: dict = {}
    original = search.rescore

    def recording(snapshot, query, candidates, weights, top, ranking, asked=frozenset()):
        kept["signals"] = signals(snapshot, query, candidates, weights, ranking, asked)
        return original(snapshot, query, candidates, weights, top, ranking, asked)

    search.rescore = recording
    found = []
    try:
        for item in questions:
            kept.clear()
            index.search(item.question, k=10, asked=item.asked)
            if "signals" not in kept:
                continue
            rows, scored = kept["signals"]
            timed = fresh_window(item.question) is not None
            rows[:, SIGNALS.index("fresh_untimed" if timed else "fresh_timed")] = 0.0
            hits = np.array([c.row is not None and item.is_hit(to_answer(c, None)) for c in scored])
            if hits.any():
                found.append((rows, hits, str(item.asked)))
    finally:
        search.rescore = original
    return found


def first_hit_ranks(found, settings: np.ndarray) -> np.ndarray:
    """Rank of the first hit (1-based; ties ignored) of each question (rows) under each weight setting (columns)."""
    ranks = np.empty((len(found), len(settings)), dtype=np.int32)
    for i, (rows, hits, _) in enumerate(found):
        scores = rows @ settings.T  # candidates x settings
        best_hit = scores[hits].max(axis=0)
        ranks[i] = 1 + (scores[~hits] > best_hit).sum(axis=0)
    return ranks


def metrics(ranks: np.ndarray, total: int) -> np.ndarray:
    """Hits@1, Hits@5 and MRR@10 over `total` questions, per setting (columns of `ranks`)."""
    return np.stack([(ranks == 1).sum(0), (ranks <= 5).sum(0), np.where(ranks <= 10, 1.0 / ranks, 0).sum(0)]) / total


def main() -> int:
    questions = load_questions(BENCH / "questions.jsonl")
    index = open_bench_index()
    if index is None:
        return 1
    found = collect(index, questions)
    grid = [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
    settings = np.array([[w[s] for s in SIGNALS] for w in [default_weights(), *grid]])
    ranks = first_hit_ranks(found, settings)
    print(f"questions with a hit among their candidates: {len(found)} of {len(questions)}")
    print("Hits@1 / Hits@5 / MRR@10 over all 449 (candidates unfolded):")
    every = metrics(ranks, len(questions))
    print(f"  default weights: {_row(every[:, 0])}")
    for name, column in (("Hits@1", 0), ("Hits@5", 1), ("MRR@10", 2)):
        best = 1 + int(np.argmax(every[column, 1:]))
        print(f"  best of {len(grid)} by {name}, fitted on all: {_row(every[:, best])}  {_weights(settings[best])}")
    early = np.array([asked < SPLIT_DAY for _, _, asked in found])
    sizes = {True: sum(q.asked is not None and str(q.asked) < SPLIT_DAY for q in questions)}
    sizes[False] = len(questions) - sizes[True]
    print(f"fitted on one half of the days asked, judged on the other (split at {SPLIT_DAY}):")
    for fit_early in (True, False):
        fit, judged = metrics(ranks[early == fit_early], sizes[fit_early]), metrics(ranks[early != fit_early], sizes[not fit_early])
        label = "earlier -> later" if fit_early else "later -> earlier"
        print(f"  {label}: default {_row(judged[:, 0])}")
        for name, column in (("Hits@1", 0), ("Hits@5", 1), ("MRR@10", 2)):
            best = 1 + int(np.argmax(fit[column, 1:]))
            print(f"    best by {name}: {_row(judged[:, best])}  {_weights(settings[best])}")
    return 0


def _row(values: np.ndarray) -> str:
    return " / ".join(f"{v:.3f}" for v in values)


def _weights(setting: np.ndarray) -> str:
    return ", ".join(f"{name} {value:g}" for name, value in zip(SIGNALS, setting) if name != "keyword")


if __name__ == "__main__":
    sys.exit(main())
