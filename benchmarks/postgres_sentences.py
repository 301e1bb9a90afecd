"""PostgreSQL's nearest sentences (the optional sentence retriever): how many of the exact 100 nearest its graph over
the sentences' signs finds, at what cost, and the retriever's answers on both engines, on the 2022 benchmark.

    .venv/bin/python benchmarks/postgres_sentences.py        # the database `postgres.py` migrated

1. Recall: for the first 60 questions, the 100 nearest sentences by an exact scan of the halfvec rows against
   `PgSentences.search` (p50 ms of the search alone).
2. Quality and latency of "unread + sentence retriever (100 nearest sentences)" on the folder and on PostgreSQL
   (449 questions, reader off), with the same ranking without the retriever as a row.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
from bench_index import BENCH, BENCH_INDEX
from postgres import timed_search, warmed_index
from rtqa import CONFIGURATIONS

from index import Index, Settings
from index.answering.evaluate import evaluate, format_table
from index.text.keywords import clear_caches

RETRIEVER = "unread + sentence retriever (100 nearest sentences)"
WITHOUT = "the default before the reader (2026-12-03 to 12-06)"


def recall(index: Index, questions: list) -> tuple[float, float]:
    """Mean share of the exact 100 nearest sentences found, and the search's p50 ms."""
    from pgvector import Vector

    found, times = [], []
    for q in questions[:60]:
        query = index.embedder.encode_query(q.question)
        with index.reader.snapshot() as snapshot:
            d = snapshot.sentences.d
            exact = snapshot.conn.execute(
                f"SELECT passage_id, ord FROM sentences ORDER BY embedding::vector({d}) <#> %s::vector({d}) LIMIT 100",
                (Vector(np.asarray(query, dtype=np.float32)),),
            ).fetchall()
            started = time.perf_counter()
            near = snapshot.sentences.search(query, 100)
            times.append((time.perf_counter() - started) * 1000)
        found.append(len(set(exact) & {hit[:2] for hit in near}) / len(exact))
    return statistics.mean(found), statistics.median(times)


def main() -> int:
    server, questions = warmed_index(20)
    share, p50 = recall(server, questions)
    print(f"PostgreSQL's nearest sentences: {share:.3f} of the exact 100 nearest found, {p50:.1f} ms p50 (60 questions)\n")
    folder = Index.open(
        settings=Settings(index_dir=BENCH_INDEX, articles_dir=BENCH / "articles.jsonl.gz", reader=False),
        embedder=server.embedder, log=lambda message: None,
    )
    folder.warm_up()
    rows = []
    for engine, index in (("SQLite folder", folder), ("PostgreSQL", server)):
        for name in (WITHOUT, RETRIEVER):
            clear_caches()
            timings: list[float] = []
            rows.append(evaluate(f"{engine}: {name}", questions, timed_search(index, CONFIGURATIONS[name], timings)))
            print(f"  scored: {rows[-1].name}", file=sys.stderr)
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
