"""The HNSW graph of a large delta's passage vectors, so a question's cost stops growing with the delta.

A delta's vectors were scanned exactly by every question: fine for a few thousand, but at a million passages a
delta may reach 100,000 (`MAX_SHARE`) before the next full build. One thread, 100 nearest of the scale corpus's
vectors alone (`benchmarks/delta_graph.py`): scanned 0.37 / 1.33 / 3.60 ms p50 at 10k / 40k / 80k, the graph
0.45 / 0.71 / 0.93, finding 99% of the exact top 100; inside a serving process at a million passages, among
the other caches, the scan of 10k took 1.1 ms and of 40k 4.1. An update grows the previous delta's graph by its
new passages (an article's in 0.03-0.15 s, the copy included) instead of building it again (0.9 s at 10k, 11 s
at 80k); passages gone from the delta stay in the graph, excluded from every search, until they pass
`STALE_SHARE` of the delta and the graph is built anew from the delta's vectors.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from index.engines.common import EF_SEARCH
from index.engines.folder.generations import vector_index

GRAPH_FILE = "graph.faiss"
GRAPH_FROM = 10_000  # delta passages from which a graph pays (where a serving process scanned 10k in 1.1 ms)
STALE_SHARE = 0.25  # gone passages a graph may hold, as a share of the delta's, before it is built anew
STORAGE = "float16"  # the delta's own vectors stay float32 beside it; no 8-bit steps to learn from a delta


class DeltaGraph:
    """An HNSW graph over a delta's passage vectors (by passage id), and the ids it holds that the delta no longer does."""

    def __init__(self, index: faiss.IndexIDMap2, ids: np.ndarray) -> None:
        self.index = index
        held = vector_index.contents_ids(index)
        if not np.isin(ids, held).all():
            raise ValueError("the delta's graph does not hold every delta passage")
        self.stale = np.setdiff1d(held, ids)  # gone from the delta, still in the graph
        # Made once, not per question (read-only: shared by the threads answering).
        self._stale = faiss.IDSelectorBatch(self.stale) if len(self.stale) else None
        self._not_stale = faiss.IDSelectorNot(self._stale) if self._stale is not None else None

    @classmethod
    def built(cls, ids: np.ndarray, vectors: np.ndarray) -> DeltaGraph | None:
        """A graph built anew over a delta of `ids` / `vectors`; None below `GRAPH_FROM` passages."""
        if len(ids) < GRAPH_FROM:
            return None
        return cls(vector_index.build(vectors.shape[1], vectors, ids, storage=STORAGE), ids)

    @classmethod
    def grown(cls, previous: DeltaGraph | None, ids: np.ndarray, vectors: np.ndarray, fresh_ids: np.ndarray,
              fresh_vectors: np.ndarray) -> DeltaGraph | None:
        """The graph of a delta of `ids` / `vectors` whose last `fresh_ids` are new: `previous` (the graph of the
        delta it extends) plus the new passages, or built anew (no previous graph, or too many gone); None below
        `GRAPH_FROM` passages."""
        if len(ids) < GRAPH_FROM:
            return None
        gone = int(previous.index.ntotal) - (len(ids) - len(fresh_ids)) if previous is not None else 0
        if previous is None or gone > STALE_SHARE * len(ids):
            return cls.built(ids, vectors)
        index = faiss.clone_index(previous.index)  # (the previous delta's graph is left as it was)
        if len(fresh_ids):
            index.add_with_ids(np.ascontiguousarray(fresh_vectors, dtype=np.float32), np.asarray(fresh_ids, np.int64))
        return cls(index, ids)

    def nearest(self, query: np.ndarray, n: int, allowed: set[int] | None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of at most `n` delta passages nearest `query`, among `allowed` when given; never a gone one."""
        selector, allowing = self._not_stale, None  # (`allowing` kept alive through the search)
        if allowed is not None:
            allowing = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
            selector = faiss.IDSelectorAnd(allowing, self._not_stale) if self._not_stale is not None else allowing
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=EF_SEARCH) if selector is not None else None
        scores, ids = self.index.search(query.reshape(1, -1), min(n, int(self.index.ntotal)), params=params)
        found = ids[0] >= 0
        return ids[0][found], scores[0][found]

    def save(self, path: Path) -> None:
        vector_index.write_file(self.index, path)

    @classmethod
    def load(cls, path: Path, ids: np.ndarray) -> DeltaGraph:
        """The graph saved beside a delta of `ids`; `ValueError` when unreadable or not that delta's."""
        try:
            index = vector_index.prepare(faiss.read_index(str(path)))
        except RuntimeError as exc:
            raise ValueError(f"cannot read {path}: {exc}") from exc
        return cls(index, ids)
