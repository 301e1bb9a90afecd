"""Latency of filtered questions on RealTimeQA 2022 (the index `rtqa.py` built): no filter, the source
nearest 1% of the articles, a span of days holding about 1% of them, and a one-month date filter,
over the same 449 questions.

    .venv/bin/python benchmarks/filters.py
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_index import BENCH, open_bench_index  # noqa: E402

from index.answering.evaluate import load_questions  # noqa: E402
from index.engines.folder.store import Store  # noqa: E402


def _day_before(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def _day_after(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def main() -> int:
    index = open_bench_index()
    if index is None:
        return 1
    index.warm_up()
    stats = index.stats()
    name, count, _, _ = min(stats.source_list, key=lambda row: abs(row[1] - stats.articles / 100))
    questions = load_questions(BENCH / "questions.jsonl")
    print(f"{stats.articles} articles; `source:\"{name}\"` keeps {count} ({count / stats.articles:.1%})\n")
    with Store(index.directory).connection() as conn:
        days = sorted(day[:10] for (day,) in conn.execute("SELECT published FROM articles WHERE published IS NOT NULL"))
    first = days[len(days) // 2]  # from the middle of the year, the fewest days that hold 1% of the articles
    last = days[days.index(first) + stats.articles // 100]
    span = f"after:{_day_before(first)} before:{_day_after(last)}"
    kept = sum(first <= d <= last for d in days)
    print(f"`{span}` keeps {kept} ({kept / stats.articles:.1%})\n")
    print("| filter | answered | p50 ms | p95 ms |\n|---|---|---|---|")
    filters = (("none", ""), (f'source:"{name}"', f' source:"{name}"'), (span, f" {span}"), ("during:2022-06", " during:2022-06"))
    for label, suffix in filters:
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
