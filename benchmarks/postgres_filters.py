"""Filtered questions on both engines: each of 100 benchmark questions asked with a filter on its own day and on its
own month (`during:`), two rounds, reader off; p50 / p95 ms and how many top-10 lists the engines share.

    .venv/bin/python benchmarks/postgres_filters.py        # the database `postgres.py` migrated

A day allows a few hundred passages (scanned exactly by both engines); a month about 5,000 (past `EXACT_SCAN`: the
HNSW graph walked until enough allowed passages are found). The rounds are what matter on PostgreSQL: a statement
psycopg prepares is switched by the server to a generic plan after a few runs.
"""

from __future__ import annotations

import statistics
import sys
import time

from bench_index import BENCH, BENCH_INDEX
from postgres import warmed_index

from index import Index, Settings
from index.answering.ranking import UNREAD_RANKING

ROUNDS = 2


def main() -> int:
    server, questions = warmed_index(20)
    folder = Index.open(
        settings=Settings(index_dir=BENCH_INDEX, articles_dir=BENCH / "articles.jsonl.gz", reader=False),
        embedder=server.embedder, log=lambda message: None,
    )
    folder.warm_up()
    asked = questions[20:120]
    print("| filter | engine | p50 ms | p95 ms |\n|---|---|---|---|")
    for span, cut in (("the month asked", 7), ("the day asked", 10)):
        found: dict[str, list] = {}
        for engine, index in (("SQLite folder", folder), ("PostgreSQL", server)):
            times, lists = [], []
            for round_ in range(ROUNDS):
                for q in asked:
                    started = time.perf_counter()
                    result = index.search(f"during:{q.asked.isoformat()[:cut]} {q.question}", k=10, asked=q.asked,
                                          ranking=UNREAD_RANKING)
                    times.append((time.perf_counter() - started) * 1000)
                    if round_ == 0:
                        lists.append([a.passage_id for a in result.answers])
            cuts = statistics.quantiles(times, n=100, method="inclusive")
            print(f"| {span} | {engine} | {cuts[49]:.1f} | {cuts[94]:.1f} |", flush=True)
            found[engine] = lists
        same = sum(a == b for a, b in zip(*found.values()))
        print(f"| {span} | top-10 lists the engines share | {same} of {len(asked)} | |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
