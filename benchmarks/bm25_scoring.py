"""BM25 sums of a question's postings at each scale size: bm25s's own (`np.add.at`) against the compiled sums
`KeywordIndex` runs from `COMPILED_FROM` passages with numba installed (issue 28: what a question's BM25 costs as
the corpus grows).

    .venv/bin/python benchmarks/bm25_scoring.py [--copies 1,5,15] [--rounds 3]

Each `.bench/scale/folder-<copies>` (built by `scale.py`) keyword index scores the 449 questions' stems on one
thread, in rounds; the compiled run also reports the once-a-process compile time, and checks every score equal.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from bench_index import BENCH  # (also puts the project on the path)
from scale import built_store

from index.answering.evaluate import load_questions
from index.engines.folder.generations.keyword_index import KeywordIndex
from index.text.keywords import tokens


def timed(index: KeywordIndex, questions: list[list[str]], rounds: int) -> np.ndarray:
    """Milliseconds of each question's scores, every round pooled (after one untimed pass)."""
    for stems in questions:
        index.scores(stems)
    times = []
    for _ in range(rounds):
        for stems in questions:
            started = time.perf_counter()
            index.scores(stems)
            times.append(time.perf_counter() - started)
    return 1000 * np.asarray(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", default="1,5,15")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = [tokens(q.question) for q in load_questions(BENCH / "questions.jsonl")]
    print("| passages | bm25s (np.add.at) p50 / p95 ms | compiled p50 / p95 ms | compile s |")
    print("|---|---|---|---|")
    for copies in [int(c) for c in args.copies.split(",")]:
        store, generation = built_store(copies)
        loaded = store.read_keywords(generation)
        plain = KeywordIndex(loaded.retriever, loaded.ids, loaded.average_length, compiled_from=len(loaded.ids) + 1)
        started = time.perf_counter()
        compiled = KeywordIndex(loaded.retriever, loaded.ids, loaded.average_length, compiled_from=0)
        compiled.warm()
        compile_s = time.perf_counter() - started  # only the first size pays it: once a process
        for stems in questions:
            assert np.array_equal(plain.scores(stems), compiled.scores(stems))
        a, b = timed(plain, questions, args.rounds), timed(compiled, questions, args.rounds)
        print(f"| {len(loaded.ids):,} | {np.percentile(a, 50):.2f} / {np.percentile(a, 95):.2f} | "
              f"{np.percentile(b, 50):.2f} / {np.percentile(b, 95):.2f} | {compile_s:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
