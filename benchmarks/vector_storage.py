"""Passage vectors kept in the HNSW graph as float32, float16 or 8-bit codes, and sentence rows as float16 or 8-bit
codes: disk and answers on RealTimeQA 2022 (issue 28: a compact store must keep Hits@5 and MRR@10 within 0.005).

    .venv/bin/python benchmarks/vector_storage.py [--only "int8 passages, 8-bit sentences"]

For each pair, a copy of the benchmark index (built by rtqa.py) is rebuilt with it: its vectors are read back
from the index's own files, nothing is embedded again. The 449 questions are then asked with dense retrieval
alone (where the stored vectors are all there is), the ranking before the reader, with the sentence retriever
(whose nearest-sentence index these builds make as IVF-PQ, rescored on the rows), and the default (the reader's
readings come from the benchmarks' cache). The first rows are the benchmark index as rtqa.py built it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import replace
from functools import partial
from pathlib import Path

from bench_index import BENCH, BENCH_INDEX, CachedReader, bench_embedder  # (also puts the project on the path)

from index import Index, Settings
from index.answering.evaluate import evaluate, format_table, load_questions
from index.answering.ranking import DEFAULT_RANKING, DENSE_ONLY, UNREAD_RANKING
from index.engines.folder.generations import sentence_index, vector_index
from index.engines.folder.store import Store

RANKINGS = {
    "dense alone": DENSE_ONLY,
    "before the reader": UNREAD_RANKING,
    "before the reader + sentence retriever": replace(UNREAD_RANKING, sentence_candidates=100),
    "default": DEFAULT_RANKING,
}


def main() -> int:
    if not (BENCH_INDEX / "newsbot.sqlite").exists():
        print("no benchmark index yet: run benchmarks/rtqa.py first", file=sys.stderr)
        return 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="one storage pair by its name (may be repeated)")
    args = parser.parse_args()
    embedder, reader = bench_embedder(), CachedReader()
    questions = load_questions(BENCH / "questions.jsonl")
    rows, sizes = [], []
    index = Index.open(settings=Settings(index_dir=BENCH_INDEX, articles_dir=BENCH / "articles.jsonl.gz"), embedder=embedder,
                       cross_encoder=reader, log=lambda m: None)
    index.warm_up()
    for name, ranking in RANKINGS.items():
        rows.append(evaluate(f"as built: {name}", questions, partial(index.search, k=10, ranking=ranking)))
    with tempfile.TemporaryDirectory(dir=BENCH_INDEX.parent) as tmp:
        for storage, coded in (("float32", False), ("float16", False), ("int8", False), ("float16", True), ("int8", True)):
            name = f"{storage} passages, {'8-bit' if coded else 'float16'} sentences"
            if args.only and name not in args.only:
                continue
            copy = Path(tmp) / name.replace(" ", "-")
            shutil.copytree(BENCH_INDEX, copy)
            vector_index.STORAGE, sentence_index.CODED_ROWS = storage, coded
            settings = Settings(index_dir=copy, articles_dir=BENCH / "articles.jsonl.gz")
            index = Index.open(settings=settings, embedder=embedder, cross_encoder=reader, log=lambda m: None)
            summary = index.update([settings.articles_dir], rebuild=True, progress=False)
            assert summary.embedded == 0, summary.line()
            with Store(copy).connection() as conn:
                generation = Store.generation(conn)
            graph = Store(copy).faiss_path(generation).stat().st_size
            folder = Store(copy).sentences_path(generation)
            sentences = sum(path.stat().st_size for path in folder.iterdir())
            sizes.append(f"| {name} | {graph / summary.passages:.0f} | {sentences / summary.passages:.0f} |")
            index.warm_up()
            for ranking_name, ranking in RANKINGS.items():
                rows.append(evaluate(f"{name}: {ranking_name}", questions, partial(index.search, k=10, ranking=ranking)))
                print(f"  scored: {rows[-1].name}", file=sys.stderr)
            shutil.rmtree(copy)
    reader.save()
    print("| stored as | HNSW graph, bytes a passage | sentence folder, bytes a passage |\n|---|---|---|")
    print("\n".join(sizes))
    print()
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
