"""Questions a second with 1, 2 and 4 answering processes against one index, on each engine (issue 28).

    .venv/bin/python benchmarks/processes.py [--seconds 30] [--counts 1,2,4]

Each process is what `newsbot serve` runs to answer (the index opened, warmed, the 2022 questions asked one after
another, the reader off: its cost is the same on both engines), all started together and stopped after the same
wall time. The folder is `.bench/rtqa-2022`; PostgreSQL is the database `benchmarks/postgres.py` migrated it into.
Reported: questions a second over all processes, and each question's p50 / p95 as the processes saw them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
from bench_index import BENCH, BENCH_INDEX  # (also puts the project on the path)

from index import Index, Settings
from index.answering.evaluate import load_questions


def settings(engine: str) -> Settings:
    url = None
    if engine == "postgres":
        from postgres import server_url

        url = server_url()
    return Settings(index_dir=BENCH_INDEX, articles_dir=BENCH / "articles.jsonl.gz", database_url=url, reader=False)


def worker(engine: str, start_at: float, seconds: float, offset: int) -> dict:
    """Answer questions from `start_at` (a wall-clock time) for `seconds`; the latencies, in ms."""
    index = Index.open(settings=settings(engine), log=lambda m: None)
    questions = load_questions(BENCH / "questions.jsonl")
    index.warm_up()
    for q in questions[:10]:
        index.search(q.question, k=10, asked=q.asked)
    time.sleep(max(0.0, start_at - time.time()))
    latencies, i = [], offset
    while time.time() < start_at + seconds:
        q = questions[i % len(questions)]
        begun = time.perf_counter()
        index.search(q.question, k=10, asked=q.asked)
        latencies.append((time.perf_counter() - begun) * 1000)
        i += 1
    return {"latencies": latencies}


def run(engine: str, processes: int, seconds: float) -> dict:
    """`processes` workers started together; questions a second over all of them, and pooled p50 / p95."""
    settings(engine)  # PostgreSQL: the server started here, before the workers look for it
    start_at = time.time() + 25 + 5 * processes  # after every worker has loaded the model and the index
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", engine, "--start-at", str(start_at), "--seconds", str(seconds),
             "--offset", str(k * 97)],
            stdout=subprocess.PIPE, text=True,
        )
        for k in range(processes)
    ]
    latencies = []
    for child in children:
        out, _ = child.communicate()
        if child.returncode:
            raise RuntimeError(f"a worker failed ({child.returncode})")
        latencies += json.loads(out.strip().splitlines()[-1])["latencies"]
    return {
        "per_second": len(latencies) / seconds,
        "p50": float(np.percentile(latencies, 50)),
        "p95": float(np.percentile(latencies, 95)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--counts", default="1,2,4", help="numbers of answering processes")
    parser.add_argument("--engines", default="folder,postgres")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.start_at, args.seconds, args.offset)))
        return 0
    print("| engine | processes | questions a second | p50 / p95 ms |\n|---|---|---|---|")
    for engine in args.engines.split(","):
        for count in (int(c) for c in args.counts.split(",")):
            found = run(engine, count, args.seconds)
            print(f"| {engine} | {count} | {found['per_second']:.0f} | {found['p50']:.0f} / {found['p95']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
