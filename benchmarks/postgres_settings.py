"""PostgreSQL's two search settings against quality and latency: `REACH` (postings read per question stem for BM25's
candidates) and pgvector's `ef_search`, on the 2022 benchmark (449 questions, reader off, two rounds each).

    .venv/bin/python benchmarks/postgres_settings.py          # the database `postgres.py` migrated
"""

from __future__ import annotations

import statistics
import sys
import time

from postgres import warmed_index

import index.engines.postgres.snapshot as snapshot
from index.answering.evaluate import evaluate
from index.answering.ranking import UNREAD_RANKING

SETTINGS = ((1000, 256), (500, 256), (300, 256), (1000, 128), (300, 128), (1000, 100))  # (REACH, ef_search)


def main() -> int:
    index, questions = warmed_index(30)
    timings: dict[tuple[int, int], list[float]] = {s: [] for s in SETTINGS}
    scored = {}
    for _ in range(2):  # rounds: every setting once in each
        for setting in SETTINGS:
            snapshot.REACH, snapshot.EF_SEARCH = setting
            times = timings[setting]

            def search(question, asked=None):
                started = time.perf_counter()
                found = index.search(question, k=10, asked=asked, ranking=UNREAD_RANKING)
                times.append((time.perf_counter() - started) * 1000)
                return found

            scored[setting] = evaluate(str(setting), questions, search).as_dict()
    print("| PostgreSQL, reader off | Hits@1 | Hits@5 | MRR@10 | first highlight | p50 ms | p95 ms |\n|---|---|---|---|---|---|---|")
    for setting in SETTINGS:
        d, cuts = scored[setting], statistics.quantiles(timings[setting], n=100, method="inclusive")
        print(f"| REACH {setting[0]}, ef_search {setting[1]} | {d['hits@1']:.3f} | {d['hits@5']:.3f} | {d['mrr@10']:.3f} "
              f"| {d['first_highlight']:.3f} | {cuts[49]:.1f} | {cuts[94]:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
