"""A delta's passage vectors scanned exactly against searched in the delta's own HNSW graph, by delta size (issue 28:
questions must not scan anything that grows with the corpus, and at a million passages a delta may reach 100,000).

    .venv/bin/python benchmarks/delta_graph.py [--copies 5] [--sizes 5000,10000,20000,40000,80000]

The vectors are the first of `.bench/scale/folder-<copies>`'s graph (built by `scale.py`); the questions are 200 of
them with noise, each asking for its 100 nearest on one thread, as a serving process does. Also: the seconds to
build a delta's graph anew, to grow it by one article's 13 passages, and how many of the exact top 100 it finds.
"""

from __future__ import annotations

import argparse
import sys
import time

import faiss
import numpy as np
from bench_index import BENCH  # noqa: F401  (puts the project on the path)
from scale import built_store

from index.engines.folder.generations import delta_graph as graphs
from index.engines.folder.generations import vector_index
from index.engines.folder.generations.delta_graph import DeltaGraph

NEAREST = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--sizes", default="5000,10000,20000,40000,80000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    store, generation = built_store(args.copies)
    graph = store.read_vectors(generation)
    vectors, ids = next(vector_index.chunks_of(graph, max(sizes) + 13))
    del graph
    faiss.omp_set_num_threads(1)
    graphs.GRAPH_FROM = 1  # every size gets its graph, to compare with the scan
    rng = np.random.default_rng(0)
    questions = vectors[rng.choice(len(vectors), 200)] + rng.normal(0, 0.03, (200, vectors.shape[1])).astype(np.float32)
    questions /= np.linalg.norm(questions, axis=1, keepdims=True)
    print("| delta passages | scanned p50 / p95 ms | graph p50 / p95 ms | graph built s | grown by 13 ms | exact top 100 found |")
    print("|---|---|---|---|---|---|")
    for size in sizes:
        part, part_ids = vectors[:size], ids[:size]
        scanned, searched, found = [], [], []
        started = time.perf_counter()
        delta_graph = DeltaGraph.grown(None, part_ids, part, part_ids, part)
        built = time.perf_counter() - started
        for query in questions:
            started = time.perf_counter()
            scores = part @ query
            exact = np.argpartition(-scores, NEAREST - 1)[:NEAREST]
            scanned.append(time.perf_counter() - started)
            started = time.perf_counter()
            got, _ = delta_graph.nearest(query, NEAREST, None)
            searched.append(time.perf_counter() - started)
            found.append(len(set(got.tolist()) & set(part_ids[exact].tolist())) / NEAREST)
        more_ids = np.concatenate([part_ids, ids[size : size + 13]])
        more = np.concatenate([part, vectors[size : size + 13]])
        started = time.perf_counter()
        DeltaGraph.grown(delta_graph, more_ids, more, ids[size : size + 13], vectors[size : size + 13])
        grown = time.perf_counter() - started
        a, b = 1000 * np.asarray(scanned), 1000 * np.asarray(searched)
        print(f"| {size:,} | {np.percentile(a, 50):.2f} / {np.percentile(a, 95):.2f} | {np.percentile(b, 50):.2f} / "
              f"{np.percentile(b, 95):.2f} | {built:.1f} | {1000 * grown:.0f} | {np.mean(found):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
