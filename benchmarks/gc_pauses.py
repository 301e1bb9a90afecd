"""Python's garbage collector and answer latency: RealTimeQA's 449 questions with and without `gc.freeze()`.

    .venv/bin/python benchmarks/gc_pauses.py

A loaded index and model are some 300,000 long-lived Python objects, and a running bot keeps adding
its sentence caches; every full collection walks them all. `newsbot serve` freezes what it loaded
(`bot/web/readiness.py`), so full collections walk only what questions allocate since. Each mode runs in
its own process over the same index: load (and freeze, where the server does), one pass to read every
file, then three passes of the 449 questions from cold sentence caches (what a bot meeting new
questions does), alternating modes.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time

import numpy as np
from bench_index import BENCH, open_bench_index

from bot.web.readiness import freeze_loaded_objects
from index.answering.evaluate import load_questions
from index.text.keywords import clear_caches

PASSES = 3
MODES = ("default", "frozen after loading")


def measure(mode: str) -> None:
    """One process: print a table row for `mode`."""
    questions = load_questions(BENCH / "questions.jsonl")
    index = open_bench_index()
    if index is None:
        sys.exit(1)
    index.warm_up()
    if mode != "default":
        freeze_loaded_objects()  # where `newsbot serve` freezes: once warm, before any question
    for item in questions:  # every index file read once, as in a bot that has answered a while
        index.search(item.question, k=10, asked=item.asked)
    before, spent = gc.get_stats()[2]["collections"], []
    for _ in range(PASSES):
        clear_caches()
        for item in questions:
            started = time.perf_counter()
            index.search(item.question, k=10, asked=item.asked)
            spent.append((time.perf_counter() - started) * 1000)
    full = gc.get_stats()[2]["collections"] - before
    p50, p95, p99 = np.percentile(spent, [50, 95, 99])
    print(f"| {mode} | {len(spent)} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {max(spent):.1f} | {full} |", flush=True)


def main() -> int:
    if len(sys.argv) > 1:
        measure(sys.argv[1])
        return 0
    print("| mode | questions | p50 ms | p95 ms | p99 ms | max ms | full collections |")
    print("|---|---|---|---|---|---|---|")
    for _ in range(2):
        for mode in MODES:
            subprocess.run([sys.executable, __file__, mode], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
