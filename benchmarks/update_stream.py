"""Single-article updates one after another on the folder engine: what each costs, what it writes, and how
questions slow as the recent passages grow, until they pass their share of the base and an update builds in full
(issue 28).

    .venv/bin/python benchmarks/update_stream.py [--articles 600] [--every 100]

A copy of `.bench/rtqa-2022` (65k passages) takes new articles one at a time, each its own `newsbot index` of
one file, embedded by the real model: the articles of the scale benchmark's second copy of the corpus (new ids,
a word in ten swapped: `benchmarks/scale.py`). Every `--every` updates, the first 100 questions are timed
(a pass after a warm-up pass, reader off) and the recent passages' size and segments are read. "Written" is the
bytes of the index files each update created (hard-linked base files keep their times and are not counted, nor is
SQLite's database).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_index import BENCH, BENCH_INDEX, bench_embedder, timed_pass  # (also puts the project on the path)
from scale import corpus_files, written_since

from index import Index, Settings
from index.answering.evaluate import load_questions
from index.engines.folder.store import Store


def question_times(index: Index, questions: list) -> np.ndarray:
    """Milliseconds a question, over one pass after a warm-up pass."""

    def ask(question: str, asked) -> None:
        index.search(question, k=10, asked=asked)

    timed_pass(ask, questions)
    return np.asarray(timed_pass(ask, questions))


def recent_size(index: Index) -> tuple[int, int]:
    """Passages in the current version's recent part (0 after a full build) and how many segments hold them."""
    store = Store(index.directory)
    read = getattr(store, "read_recent", None)  # (None: a checkout from before segments, one delta folder)
    if read is None:
        found = store.read_delta(index.generation())
        return (len(found[0]), 1) if found else (0, 0)
    recent = read(index.generation())
    return (len(recent.ids) - len(recent.removed), len(recent.segments)) if recent else (0, 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--every", type=int, default=100)
    args = parser.parse_args()
    if not (BENCH_INDEX / "newsbot.sqlite").exists():
        print("no benchmark index yet: run benchmarks/rtqa.py first", file=sys.stderr)
        return 1
    with open(corpus_files(2)[1], encoding="utf-8") as lines:
        records = [json.loads(line) for _, line in zip(range(args.articles), lines)]
    questions = load_questions(BENCH / "questions.jsonl")[:100]
    with tempfile.TemporaryDirectory() as tmp:
        folder, articles = Path(tmp) / "index", Path(tmp) / "articles"
        shutil.copytree(BENCH_INDEX, folder)
        articles.mkdir()
        index = Index.open(
            settings=Settings(index_dir=folder, articles_dir=articles, reader=False), embedder=bench_embedder(),
            log=lambda m: None,
        )
        index.warm_up()
        times = question_times(index, questions)
        print("| updates | recent passages (segments) | update s (mean / max of the block) | MB written an update "
              "(mean / max) | p50 / p95 ms |\n|---|---|---|---|---|")
        p50, p95 = np.percentile(times, 50), np.percentile(times, 95)
        print(f"| 0 | {recent_size(index)[0]} | — | — | {p50:.1f} / {p95:.1f} |", flush=True)
        block: list[float] = []
        written: list[int] = []
        for n, record in enumerate(records, start=1):
            path = articles / f"new-{n:05d}.jsonl"
            path.write_text(json.dumps(record) + "\n", encoding="utf-8")
            begun, since = time.perf_counter(), time.time_ns()
            index.update([path], progress=False)
            block.append(time.perf_counter() - begun)
            written.append(written_since(folder, since))
            if n % args.every == 0:
                times = question_times(index, questions)
                passages, segments = recent_size(index)
                print(f"| {n} | {passages:,} ({segments}) | {np.mean(block):.2f} / {max(block):.1f} "
                      f"| {np.mean(written) / 1e6:.1f} / {max(written) / 1e6:.1f} "
                      f"| {np.percentile(times, 50):.1f} / {np.percentile(times, 95):.1f} |", flush=True)
                block, written = [], []
    return 0


if __name__ == "__main__":
    sys.exit(main())
