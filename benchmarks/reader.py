"""The reader (a cross-encoder) against the ranking without it: RealTimeQA 2022, both halves of the days asked,
and the seed questions (a set no weight was fitted on), every configuration side by side in one run.

    .venv/bin/python benchmarks/reader.py             # the compared configurations
    .venv/bin/python benchmarks/reader.py --grid      # and the grid the default was chosen from

Questions go through the project's own search on the benchmark index (`rtqa.py` builds it) and on an index of
seeds/. The reader's readings are kept in .bench/reader-cache.pkl (`bench_index.CachedReader`), so a rerun
reads each pair once; quality does not depend on it, latency is measured by `rtqa.py --rounds`.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path

from bench_index import BENCH, ROOT, CachedReader, open_bench_index

from index import CrossEncoder, Index, Settings
from index.answering.evaluate import EvalQuestion, Metrics, evaluate, load_questions
from index.answering.ranking import DEFAULT_RANKING, UNREAD_RANKING, Ranking

SPLIT_DAY = "2022-09-22"  # the questions' median day asked: halves of 219 and 230
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"

CONFIGURATIONS: dict[str, Ranking] = {
    "today's default without the reader": UNREAD_RANKING,
    "default: reader, 10 passages + 3 passages' sentences": DEFAULT_RANKING,
    "default + the reader's bold sentence": replace(DEFAULT_RANKING, rerank_highlight=0.0),
    "default, the reader's bold sentence only 2 logits above the ranking's": replace(DEFAULT_RANKING, rerank_highlight=2.0),
    "default, the reader's bold sentence only 4 logits above the ranking's": replace(DEFAULT_RANKING, rerank_highlight=4.0),
    "default, the ranking's bold sentence (the reader never picks it)": replace(DEFAULT_RANKING, rerank_highlight=None),
    "the reader alone over 20 passages (title + passage, no fused score)": replace(
        DEFAULT_RANKING, rerank=20, rerank_tokens=512, rerank_fused=0.0, rerank_sentence=0.0
    ),
    "the issue's: 20 passages + their best sentence, fused at half weight, the reader's bold": replace(
        DEFAULT_RANKING, rerank=20, rerank_tokens=512, rerank_sentences=20, rerank_sentence=1.0,
        rerank_fused=0.5, rerank_highlight=0.0,
    ),
}


def merged(name: str, parts: list[Metrics]) -> Metrics:
    """One `Metrics` over several question sets (counts added)."""
    total = Metrics(name)
    for part in parts:
        total.questions += part.questions
        total.reciprocal_ranks += part.reciprocal_ranks
        total.abstained += part.abstained
        total.first_highlight += part.first_highlight
        total.highlight_top += part.highlight_top
        total.latencies_ms += part.latencies_ms
        for k in total.hits:
            total.hits[k] += part.hits[k]
    return total


def row(name: str, m: Metrics) -> str:
    d = m.as_dict()
    return f"{d['hits@1']:.3f} | {d['hits@5']:.3f} | {d['mrr@10']:.3f} | {d['first_highlight']:.3f}"


def compare(configurations: dict[str, Ranking], rtqa: Index, seeds: Index, halves, seed_questions) -> None:
    """One table row per configuration: all 449, each half, the seeds (Hits@1 / Hits@5 / MRR@10 / first highlight)."""
    print("| configuration | 2022: Hits@1 | Hits@5 | MRR@10 | first highlight | earlier half | later half | seeds |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ranking in configurations.items():
        parts = [evaluate(name, half, partial(rtqa.search, k=10, ranking=ranking)) for half in halves]
        seeded = evaluate(name, seed_questions, partial(seeds.search, k=10, ranking=ranking))
        both = merged(name, parts)
        halves_shown = " | ".join(row(name, p).replace(" | ", " / ") for p in parts)
        print(f"| {name} | {row(name, both)} | {halves_shown} | {row(name, seeded).replace(' | ', ' / ')} |", flush=True)


def grid() -> dict[str, Ranking]:
    """The settings the default was chosen among (each kept only if it loses on neither half)."""
    found = {}
    for k, sentences, passage, sentence, fused in itertools.product(
        (10, 20), (3, 5), (0.5, 1.0), (0.25, 0.5, 1.0), (0.5, 1.0, 1.5)
    ):
        found[f"{k} passages, {sentences} with sentences, weights {passage}/{sentence}/{fused}"] = replace(
            DEFAULT_RANKING, rerank=k, rerank_sentences=sentences, rerank_passage=passage, rerank_sentence=sentence,
            rerank_fused=fused,
        )
    return found


def under_load(rtqa: Index, questions: list[EvalQuestion], at_once: int, threads: int) -> str:
    """`threads` questions at a time, each answered with the real reader running `at_once` inferences at a time:
    questions a second, and each question's p50 / p95 from its arrival (a table row)."""
    index = Index.open(settings=rtqa.settings, embedder=rtqa.embedder, cross_encoder=CrossEncoder(at_once=at_once),
                       log=lambda message: None)
    index.warm_up()
    waited: list[float] = []

    def ask(item: EvalQuestion) -> None:
        started = time.perf_counter()
        index.search(item.question, k=3, asked=item.asked)
        waited.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(ask, questions))
    seconds = time.perf_counter() - started
    cuts = statistics.quantiles(waited, n=100, method="inclusive")
    return f"| {threads} | {at_once} | {len(questions) / seconds:.2f} | {cuts[49]:.0f} | {cuts[94]:.0f} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", action="store_true", help="also every setting of the grid")
    parser.add_argument("--load", type=int, default=0, help="also N questions asked at once, the reader running 1 or 2 at a time")
    args = parser.parse_args()
    reader = CachedReader()
    rtqa = open_bench_index(cross_encoder=reader)
    if rtqa is None:
        return 1
    questions = load_questions(BENCH / "questions.jsonl")
    halves = [
        [q for q in questions if str(q.asked) < SPLIT_DAY],
        [q for q in questions if str(q.asked) >= SPLIT_DAY],
    ]
    seed_questions: list[EvalQuestion] = load_questions(SEED_QUESTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Index.open(
            settings=Settings(index_dir=Path(tmp) / "seeds", articles_dir=ROOT / "seeds"), embedder=rtqa.embedder,
            cross_encoder=reader, log=lambda message: None,
        )
        seeds.update(progress=False)
        rtqa.warm_up()
        try:
            compare(CONFIGURATIONS | (grid() if args.grid else {}), rtqa, seeds, halves, seed_questions)
        finally:
            reader.save()
    if args.load:
        print("\n| questions at once | reader inferences at once | questions / s | p50 ms | p95 ms |\n|---|---|---|---|---|")
        for at_once in (1, 2):
            print(under_load(rtqa, questions[: 5 * args.load], at_once, args.load), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
