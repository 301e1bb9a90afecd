"""Single-article updates one after another on the folder engine: what each costs and how questions slow as the
delta grows, until it passes its share of the base and an update builds in full (issue 28).

    .venv/bin/python benchmarks/update_stream.py [--articles 600] [--every 100]

A copy of `.bench/rtqa-2022` (65k passages) takes new articles one at a time, each its own `newsbot index` of
one file, embedded by the real model: the articles of the scale benchmark's second copy of the corpus (new ids,
a word in ten swapped: `benchmarks/scale.py`). Every `--every` updates, the first 100 questions are timed
(a pass after a warm-up pass, reader off) and the delta's size is read.
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
from scale import corpus_files

from index import Index, Settings
from index.answering.evaluate import load_questions
from index.engines.folder.store import Store


def question_times(index: Index, questions: list) -> np.ndarray:
    """Milliseconds a question, over one pass after a warm-up pass."""

    def ask(question: str, asked) -> None:
        index.search(question, k=10, asked=asked)

    timed_pass(ask, questions)
    return np.asarray(timed_pass(ask, questions))


def delta_size(index: Index) -> int:
    """Passages in the current version's delta (0 after a full build)."""
    found = Store(index.directory).read_delta(index.generation())
    return len(found[0]) if found else 0


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
        print("| updates | delta passages | update s (mean / max of the block) | p50 / p95 ms |\n|---|---|---|---|")
        print(f"| 0 | {delta_size(index)} | — | {np.percentile(times, 50):.1f} / {np.percentile(times, 95):.1f} |", flush=True)
        block: list[float] = []
        for n, record in enumerate(records, start=1):
            path = articles / f"new-{n:05d}.jsonl"
            path.write_text(json.dumps(record) + "\n", encoding="utf-8")
            begun = time.perf_counter()
            index.update([path], progress=False)
            block.append(time.perf_counter() - begun)
            if n % args.every == 0:
                times = question_times(index, questions)
                print(f"| {n} | {delta_size(index):,} | {np.mean(block):.2f} / {max(block):.1f} "
                      f"| {np.percentile(times, 50):.1f} / {np.percentile(times, 95):.1f} |", flush=True)
                block = []
    return 0


if __name__ == "__main__":
    sys.exit(main())
