"""The dense side of the index: passage vectors in a FAISS HNSW graph, keyed by passage id.

An exact scan of 65k vectors took ~7 ms per question on this 2-core machine and grows with the
corpus; an HNSW graph answers in ~0.5 ms and finds ~98% of the exact top 100 (measured on
RealTimeQA 2022). HNSW cannot delete, so each generation's graph is rebuilt from the previous one's
vectors minus the removed passages plus the new ones (~0.1-0.2 ms per vector).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

from index.engines.common import EF_CONSTRUCTION, EF_SEARCH, HNSW_NEIGHBORS

ADD_CHUNK = 4096  # vectors added between two progress bar updates
# How the graph stores each vector: "float32" (1.5 KB at 384 dimensions), "float16" (half) or "int8" (a quarter,
# 8-bit codes over each dimension's range); "auto": float16 below `CODED_FROM` vectors, int8 from there.
# RealTimeQA 2022 (`benchmarks/vector_storage.py`): float16 answers exactly as float32 at every configuration; int8
# within 0.003 Hits@5, and took 0.29 GB off a million-passage build's peak (`benchmarks/scale.py`). A vector read
# back from 8-bit codes and coded again on the same steps gets the same codes, so a full build that keeps an int8
# graph's vectors keeps its steps (`steps_of`): they are rounded once, when first stored. A small graph stays
# float16 (a round trip leaves it as it was) until it holds enough vectors to learn the steps from.
STORAGE = "auto"
TRAINING = 65_536  # vectors an int8 storage learns each dimension's range from
CODED_FROM = TRAINING  # vectors from which "auto" stores 8-bit codes (fewer: its steps would come from too few)
_QUANTIZERS = {"float16": faiss.ScalarQuantizer.QT_fp16, "int8": faiss.ScalarQuantizer.QT_8bit}


def storage_for(total: int, steps: np.ndarray | None = None) -> str:
    """How a graph of `total` vectors stores them under `STORAGE`; given a previous int8 graph's `steps`, "auto"
    stays int8 whatever the size (going back to float16 would lose the steps, and its vectors are coded already)."""
    if STORAGE != "auto":
        return STORAGE
    return "int8" if total >= CODED_FROM or steps is not None else "float16"


def steps_of(index: faiss.Index) -> np.ndarray | None:
    """The 8-bit steps (each dimension's minimum, then its range) of an int8 graph; None for any other storage."""
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else None
    if not isinstance(inner, faiss.IndexHNSWSQ):
        return None
    storage = faiss.downcast_index(inner.storage)
    if storage.sq.qtype != faiss.ScalarQuantizer.QT_8bit:
        return None
    return faiss.vector_to_array(storage.sq.trained).astype(np.float32)


def build(dimension: int, matrix: np.ndarray, ids: np.ndarray, progress: bool = False,
          storage: str | None = None) -> faiss.IndexIDMap2:
    """A searchable index of unit vectors (inner product = cosine) with their passage ids."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    ids = np.asarray(ids, dtype=np.int64)
    chunks = ((matrix[i : i + ADD_CHUNK], ids[i : i + ADD_CHUNK]) for i in range(0, len(ids), ADD_CHUNK))
    return build_from(dimension, chunks, len(ids), progress, storage=storage)


def build_from(
    dimension: int, chunks: Iterable[tuple[np.ndarray, np.ndarray]], total: int, progress: bool = False,
    steps: np.ndarray | None = None, storage: str | None = None,
) -> faiss.IndexIDMap2:
    """The same from `(vectors, passage ids)` chunks, so a big corpus's vectors are never held whole (the graph
    keeps its own copy). An int8 storage takes `steps` when given (a previous graph's, see `steps_of`), else learns
    them from the first `TRAINING` vectors. `storage` overrides `STORAGE`'s choice."""
    storage = storage or storage_for(total, steps)
    if storage == "float32":
        graph = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBORS, faiss.METRIC_INNER_PRODUCT)
    else:
        graph = faiss.IndexHNSWSQ(dimension, _QUANTIZERS[storage], HNSW_NEIGHBORS, faiss.METRIC_INNER_PRODUCT)
        if storage == "int8" and steps is not None and len(steps) == 2 * dimension:
            coder = faiss.downcast_index(graph.storage)
            faiss.copy_array_to_vector(np.asarray(steps, dtype=np.float32), coder.sq.trained)
            coder.is_trained = graph.is_trained = True
    graph.hnsw.efConstruction = EF_CONSTRUCTION
    graph.hnsw.efSearch = EF_SEARCH
    index = faiss.IndexIDMap2(graph)
    waiting: list[tuple[np.ndarray, np.ndarray]] = []  # chunks read before the storage is trained

    def add(matrix: np.ndarray, ids: np.ndarray) -> None:
        index.add_with_ids(np.ascontiguousarray(matrix, dtype=np.float32), np.asarray(ids, dtype=np.int64))
        bar.update(len(ids))

    with tqdm(total=total, desc="Vector index", unit="passage", disable=not progress, leave=False) as bar:
        for matrix, ids in chunks:
            if index.is_trained:
                add(matrix, ids)
                continue
            waiting.append((np.asarray(matrix, dtype=np.float32), ids))
            if sum(len(i) for _, i in waiting) >= TRAINING:
                index.train(np.concatenate([m for m, _ in waiting]))  # (through the id map, which notes it too)
                for waited in waiting:
                    add(*waited)
                waiting.clear()
        if waiting and sum(len(i) for _, i in waiting):
            index.train(np.concatenate([m for m, _ in waiting]))
            for waited in waiting:
                add(*waited)
    return index


def contents_ids(index: faiss.Index) -> np.ndarray:
    """The passage ids of every vector of an `IndexIDMap2`, in storage order."""
    return faiss.vector_to_array(index.id_map).astype(np.int64)


def contents(index: faiss.Index) -> tuple[np.ndarray, np.ndarray]:
    """Every vector of an `IndexIDMap2` (HNSW or, from older versions, flat) and its passage id."""
    ids = contents_ids(index)
    if not len(ids):
        return np.zeros((0, index.d), dtype=np.float32), ids
    return index.index.reconstruct_n(0, len(ids)), ids


def chunks_of(index: faiss.Index, size: int = ADD_CHUNK) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """`contents` a chunk at a time, in storage order: float32 copies of `size` vectors at most at once."""
    ids = contents_ids(index)
    for start in range(0, len(ids), size):
        count = min(size, len(ids) - start)
        yield index.index.reconstruct_n(start, count), ids[start : start + count]


def prepare(index: faiss.Index) -> faiss.Index:
    """Set the search breadth on a loaded index (a no-op for a flat one)."""
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else None
    if isinstance(inner, faiss.IndexHNSW):
        inner.hnsw.efSearch = EF_SEARCH
    return index


def write_file(index: faiss.Index, path: str | Path) -> None:
    """Write `index` to `path` through a Python file, so a failed write (a full disk) is an `OSError`.

    `faiss.write_index(index, path)` raises RuntimeError instead, and a write that fails only when
    the file is closed is printed to stderr and ignored, leaving a short file behind.
    """
    with open(path, "wb") as handle:
        faiss.write_index(index, faiss.PyCallbackIOWriter(handle.write))
