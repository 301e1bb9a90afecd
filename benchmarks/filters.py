"""Latency of filtered questions on RealTimeQA 2022 (the index `rtqa.py` built): no filter, a source
filter that keeps about 1% of the articles, and a one-month date filter, over the same 449 questions.

    .venv/bin/python benchmarks/filters.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index import Embedder  # noqa: E402
from bench_index import BENCH, open_bench_index  # noqa: E402
from index.evaluate import load_questions  # noqa: E402



def main() -> int:
    index = open_bench_index(Embedder())
    if index is None:
        return 1
    index.warm_up()
    stats = index.stats()
    name, count, _, _ = min(stats.source_list, key=lambda row: abs(row[1] - stats.articles / 100))
    questions = load_questions(BENCH / "questions.jsonl")
    print(f"{stats.articles} articles; `source:\"{name}\"` keeps {count} ({count / stats.articles:.1%})\n")
    print("| filter | answered | p50 ms | p95 ms |\n|---|---|---|---|")
    for label, suffix in (("none", ""), (f'source:"{name}"', f' source:"{name}"'), ("during:2022-06", " during:2022-06")):
        times, answered = [], 0
        for q in questions:
            started = time.perf_counter()
            result = index.search(q.question + suffix, k=10, asked=q.asked)
            times.append((time.perf_counter() - started) * 1000)
            answered += not result.abstained
        cuts = statistics.quantiles(times, n=100, method="inclusive")
        print(f"| {label} | {answered} of {len(questions)} | {cuts[49]:.1f} | {cuts[94]:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
