"""HNSW search time with the graph's vectors as float16 or 8-bit codes: the same vectors (a scale index's), the
same questions (issue 28: does the 8-bit graph that bounds indexing memory slow questions?).

    .venv/bin/python benchmarks/graph_storage.py [--copies 5] [--rounds 3]

Both graphs are built from the vectors of `.bench/scale/folder-<copies>` (built by `scale.py`); each question's
vector searches each graph for its 100 nearest passages on one thread, as a serving process does, in rounds.
"""

from __future__ import annotations

import argparse
import sys
import time

import faiss
import numpy as np
from bench_index import BENCH, bench_embedder  # (also puts the project on the path)
from scale import built_store

from index.answering.evaluate import load_questions
from index.engines.folder.generations import vector_index

STORAGES = ("float16", "int8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    store, generation = built_store(args.copies)
    graph = store.read_vectors(generation)
    chunks, total = list(vector_index.chunks_of(graph)), int(graph.ntotal)
    del graph
    embedder = bench_embedder()
    queries = np.asarray([embedder.encode_query(q.question) for q in load_questions(BENCH / "questions.jsonl")[:100]],
                         dtype=np.float32)
    graphs = {}
    for storage in STORAGES:
        vector_index.STORAGE = storage
        graphs[storage] = vector_index.build_from(queries.shape[1], iter(chunks), total)
    faiss.omp_set_num_threads(1)
    timings: dict[str, list[float]] = {storage: [] for storage in STORAGES}
    for _ in range(args.rounds):
        for storage, built in graphs.items():
            for query in queries:
                started = time.perf_counter()
                built.search(query.reshape(1, -1), 100)
                timings[storage].append((time.perf_counter() - started) * 1000)
    found = {storage: built.search(queries, 100)[1] for storage, built in graphs.items()}
    same = np.mean([len(set(a) & set(b)) / 100 for a, b in zip(*found.values())])
    print(f"{total:,} passages, {len(queries)} questions x {args.rounds} rounds, one thread\n")
    print("| graph stores | p50 ms | p95 ms |\n|---|---|---|")
    for storage, times in timings.items():
        print(f"| {storage} | {np.percentile(times, 50):.2f} | {np.percentile(times, 95):.2f} |")
    print(f"\nthe same top 100: {same:.3f} of passages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
