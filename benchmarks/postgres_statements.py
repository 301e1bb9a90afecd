"""What a PostgreSQL question spends, statement by statement: psycopg's `execute` timed around the 2022
benchmark's questions 101-150 (after 20 others, to warm the server), the reader off.

    .venv/bin/python benchmarks/postgres_statements.py        # the database `postgres.py` migrated

Prints the median question time and each statement's milliseconds a question, largest first.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import defaultdict

import psycopg
from postgres import warmed_index

from index.answering.ranking import UNREAD_RANKING


def main() -> int:
    spent: dict[str, list[float]] = defaultdict(list)
    execute = psycopg.Connection.execute

    def timed(self, query, params=None, **kwargs):
        started = time.perf_counter()
        cursor = execute(self, query, params, **kwargs)
        words = " ".join(str(query).split())
        spent[words[:60] + " ... " + words[-60:] if len(words) > 125 else words].append((time.perf_counter() - started) * 1000)
        return cursor

    psycopg.Connection.execute = timed
    index, questions = warmed_index(20)
    spent.clear()
    whole = []
    asked = questions[100:150]
    for q in asked:
        started = time.perf_counter()
        index.search(q.question, k=10, asked=q.asked, ranking=UNREAD_RANKING)
        whole.append((time.perf_counter() - started) * 1000)
    print(f"question p50 {statistics.median(whole):.1f} ms, mean {statistics.mean(whole):.1f} ms ({len(asked)} questions)")
    print("| ms a question | runs | statement |\n|---|---|---|")
    for words, times in sorted(spent.items(), key=lambda item: -sum(item[1])):
        print(f"| {sum(times) / len(asked):.2f} | {len(times)} | `{words}` |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
