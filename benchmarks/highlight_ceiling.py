"""How far can the bold sentence get with the signals it has? The highlight's weights searched on RealTimeQA 2022.

    .venv/bin/python benchmarks/highlight_ceiling.py

Asks the 449 questions once with the default ranking and keeps, for each question whose first answer
is a hit, every sentence of that passage with its signals: rare-word share, pooled-vector cosine, new
names and numbers, the recurring name it holds (names the best passages share), position (the lede), a
question mark. Then picks the highlight under every setting of a grid of weights and reports
first-highlight accuracy (over all 449): the best settings, fitted on this very set, bound what
re-weighting these signals can give; the oracle (any sentence holding the answer) bounds what any
highlight rule can give on this first answer.
"""

from __future__ import annotations

import itertools
import re
import sys

from bench_index import BENCH, open_bench_index

from index.answering import rescoring, search
from index.answering.evaluate import load_questions
from index.answering.ranking import DEFAULT_RANKING
from index.answering.recurring import recurrence, recurring_names
from index.text.sentence_words import QuestionTerms, new_names

MEANING = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
NOVELTY = (0.0, 0.1, 0.2, 0.3, 0.4, 0.6)
LEDE = (0.0, 0.05, 0.1, 0.2)  # added to an article's first sentence
QUESTION_MARK = (0.0, 0.3)  # taken from a sentence ending in "?"
EVERY_SENTENCE_NOVEL = (False, True)  # new names counted for every sentence, not the three best
REDUNDANCY = (0.0, 0.1, 0.2, 0.3)  # added for the most widely held recurring name, within reach of the best


def collect(index, questions) -> list[list[dict]]:
    """The signals of every sentence of each question's first answer, when that answer is a hit."""
    seen: dict[int, list[dict]] = {}
    original = rescoring.rescore

    def recording(snapshot, query, candidates, weights, top, ranking, asked=frozenset()):
        ranked = original(snapshot, query, candidates, weights, top, ranking, asked)
        head = [c for c in ranked[:top] if c.row is not None]
        seen.clear()
        terms = QuestionTerms(weights)
        depth = ranked[: ranking.redundancy_depth]  # as `rescoring._highlight` counts them
        shared = recurring_names((c.row["sentence_words"] for c in depth if c.row and c.row["sentence_texts"]), asked)
        for cand, cosines in zip(head, snapshot.sentences.cosines([c.pid for c in head], query)):
            texts, words = cand.row["sentence_texts"], cand.row["sentence_words"]
            seen[cand.pid] = [
                {"match": terms.share(words[i]), "cosine": float(cosines[i]) if len(cosines) == len(texts) else 0.0,
                 "new": new_names(words[i], asked), "recurring": recurrence(words[i], shared),
                 "lede": cand.row["opens_article"] and i == 0,
                 "asks": t.rstrip().rstrip("\"”’')").endswith("?"), "text": t}
                for i, t in enumerate(texts)
            ]
        return ranked

    search.rescore = recording
    try:
        found = []
        for item in questions:
            result = index.search(item.question, k=10, asked=item.asked)
            if result.answers and item.is_hit(result.answers[0]) and result.answers[0].passage_id in seen:
                answer = re.compile(r"(?<!\w)" + re.escape(item.answer) + r"(?!\w)", re.IGNORECASE)
                sentences = seen[result.answers[0].passage_id]
                for sentence in sentences:
                    sentence["answers"] = bool(answer.search(sentence.pop("text")))
                found.append(sentences)
        return found
    finally:
        search.rescore = original


def accuracy(passages: list[list[dict]], total: int, meaning, novelty, lede, asks, every, redundancy) -> float:
    """First-highlight accuracy when the highlight is chosen with these weights (as `rescoring` does: new names
    for the three best sentences, then the recurring name for those within `redundancy` of the best)."""
    right = 0
    for sentences in passages:
        base = [(1 - meaning) * s["match"] + meaning * s["cosine"] for s in sentences]
        novel = set(range(len(base))) if every else set(sorted(range(len(base)), key=base.__getitem__)[-3:])
        scores = [
            b + (novelty * s["new"] if i in novel else 0.0) + (lede if s["lede"] else 0.0) - (asks if s["asks"] else 0.0)
            for i, (b, s) in enumerate(zip(base, sentences))
        ]
        reach = max(scores) - redundancy
        scores = [x + redundancy * s["recurring"] if x >= reach else x for x, s in zip(scores, sentences)]
        right += sentences[max(range(len(scores)), key=scores.__getitem__)]["answers"]
    return right / total


def main() -> int:
    questions = load_questions(BENCH / "questions.jsonl")
    index = open_bench_index()
    if index is None:
        return 1
    passages = collect(index, questions)
    total = len(questions)
    grid = list(itertools.product(MEANING, NOVELTY, LEDE, QUESTION_MARK, EVERY_SENTENCE_NOVEL, REDUNDANCY))
    scored = sorted(((accuracy(passages, total, *w), w) for w in grid), reverse=True)
    print(f"first answers that are hits: {len(passages)} of {total}")
    ranking = DEFAULT_RANKING
    default = (ranking.sentence_meaning, ranking.sentence_novelty, 0.0, 0.0, False, ranking.redundancy)
    print(f"default weights (meaning {default[0]}, novelty {default[1]}, recurring names {default[5]}): "
          f"{accuracy(passages, total, *default):.3f}")
    print(f"best of {len(grid)} settings, fitted on this set:")
    for value, (meaning, novelty, lede, asks, every, redundancy) in scored[:5]:
        print(f"  {value:.3f}  meaning {meaning}, novelty {novelty}{' (every sentence)' if every else ''}, "
              f"recurring names {redundancy}, lede {lede}, '?' -{asks}")
    oracle = sum(any(s["answers"] for s in sentences) for sentences in passages) / total
    print(f"oracle (a sentence of the first answer holds the answer): {oracle:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
