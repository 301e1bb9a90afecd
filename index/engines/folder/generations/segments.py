"""One generation's passages as readers see them: the base files plus the recent delta (see `delta`),
minus the base passages removed since the base was built ("dead"). The three views answer what search
asks of passage vectors, BM25 and sentence vectors, whichever segment a passage is in.
"""

from __future__ import annotations

import math

import faiss
import numpy as np

from index.engines.common import EF_SEARCH, EXACT_SCAN, K1, B, scan
from index.engines.folder.generations.delta import Delta
from index.engines.folder.generations.keyword_index import KeywordIndex
from index.engines.folder.generations.sentence_index import SentenceIndex
from index.engines.folder.generations.sorted_ids import positions

FLOOR_HINT = 4  # passages of the rarest stems read for BM25's floor, per candidate asked for (`Keywords._floor`)
ABOVE_ZERO = float(np.nextafter(np.float32(0), np.float32(1)))  # the least positive float32


class PassageVectors:
    """Passage vectors: the base HNSW graph and the delta's rows, without dead passages."""

    def __init__(self, base: faiss.Index, delta: Delta, dead: np.ndarray) -> None:
        self.base = base
        self.delta = delta
        self.dead = dead  # ascending
        self._dead = frozenset(dead.tolist())
        self.d = base.d
        self.ntotal = int(base.ntotal) - len(dead) + len(delta)

    def reconstruct(self, pid: int) -> np.ndarray:
        position = int(positions(self.delta.ids, np.asarray([pid]))[0])
        return self.delta.vectors[position] if position >= 0 else self.base.reconstruct(int(pid))

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), self.d), dtype=np.float32)
        in_delta = positions(self.delta.ids, ids)
        recent = in_delta >= 0
        if recent.any():
            out[recent] = self.delta.vectors[in_delta[recent]]
        if (~recent).any():
            out[~recent] = self.base.reconstruct_batch(ids[~recent])
        return out

    def nearest(self, query: np.ndarray, n: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        """The `n` passages closest to `query`, only among `allowed` when given (restricted inside the search).

        A few thousand allowed passages are scanned exactly; more are searched in the HNSW graph with an
        id selector, so a narrow filter still finds its best passages rather than none of a global top n.
        The delta is scanned exactly, or searched in its own graph when large; dead passages are never returned.
        """
        if allowed is not None and len(allowed) <= EXACT_SCAN:
            return scan(self, query, n, allowed)
        found: list[tuple[int, float]] = []
        if self.base.ntotal:
            params = None
            if allowed is not None:
                selector = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=EF_SEARCH)
            wanted = min(n + len(self.dead), self.base.ntotal)
            scores, ids = self.base.search(query.reshape(1, -1), wanted, params=params)
            dead = self._dead
            found = [(pid, s) for pid, s in zip(ids[0].tolist(), scores[0].tolist()) if pid >= 0 and pid not in dead]
        if len(self.delta):
            ids, scores = self._recent(query, n, allowed)
            found += list(zip(ids.tolist(), scores.tolist()))
            found.sort(key=lambda item: -item[1])
        return found[:n]

    def _recent(self, query: np.ndarray, n: int, allowed: set[int] | None) -> tuple[np.ndarray, np.ndarray]:
        """The delta's own best `n` (only they can make the merged top n): from its graph, or scanned when small or
        when few of its passages are allowed (a filtered graph search may miss a few allowed among many)."""
        ids, vectors = self.delta.ids, self.delta.vectors
        if allowed is not None:
            keep = np.isin(ids, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
            if self.delta.graph is None or keep.sum() <= EXACT_SCAN:
                ids, vectors = ids[keep], vectors[keep]
            else:
                return self.delta.graph.nearest(query, n, allowed)
        elif self.delta.graph is not None:
            return self.delta.graph.nearest(query, n, None)
        scores = vectors @ query
        if len(ids) > n:
            top = np.argpartition(-scores, n - 1)[:n]
            ids, scores = ids[top], scores[top]
        return ids, scores


class Keywords:
    """BM25 over base and delta: the base's precomputed scores (dead passages zeroed) and the delta's
    scored with the same constants and the combined document frequencies."""

    def __init__(self, base: KeywordIndex, delta: Delta, dead: np.ndarray) -> None:
        self.base = base
        self.base.warm()
        self.delta = delta
        self.ids = np.concatenate([base.ids, delta.ids])
        self._dead_positions = positions(base.ids, dead)
        self._documents = len(base.ids) + len(delta)
        self._alive = self._documents - len(dead)
        average = base.average_length or float(delta.lengths.mean() if len(delta) else 1.0) or 1.0
        self._delta_norms = K1 * ((1 - B) + B * delta.lengths / average)  # BM25's length norm of each delta passage

    def __len__(self) -> int:
        return self._alive

    def frequency(self, stem: str) -> int:
        """How many passages hold this stem (base and delta)."""
        recent = self.delta.terms.get(stem)
        return self.base.frequency(stem) + (len(recent[0]) if recent else 0)

    def frequencies(self, stems: list[str]) -> dict[str, int]:
        """How many passages hold each stem."""
        return {s: self.frequency(s) for s in stems}

    def scores(self, stems: list[str]) -> np.ndarray:
        """The BM25 score of every passage (aligned with `ids`) for these distinct query stems."""
        row = np.zeros(len(self.ids), dtype=np.float32)  # the base's scores written in place: no copy to join
        if len(self.base.ids):
            self.base.scores(stems, out=row[: len(self.base.ids)])
        if len(self._dead_positions):
            row[self._dead_positions[self._dead_positions >= 0]] = 0.0
        if not len(self.delta):
            return row
        recent, norms = row[len(self.base.ids) :], self._delta_norms
        for stem in dict.fromkeys(stems):
            posting = self.delta.terms.get(stem)
            if posting is None:
                continue
            where, counts = posting
            frequency = self.frequency(stem)
            idf = math.log(1 + (self._documents - frequency + 0.5) / (frequency + 0.5))
            recent[where] += idf * counts / (norms[where] + counts)
        return row

    def positions(self, pids: list[int]) -> np.ndarray:
        """Column of each passage id; -1 for an id not in this generation."""
        return positions(self.ids, np.asarray(pids, dtype=np.int64))

    def best(
        self, stems: list[str], n: int, allowed: set[int] | None = None, also: list[int] = (),
        earlier_stems: list[str] = (), earlier_weight: float = 0.0,
    ) -> tuple[list[int], dict[int, float]]:
        """The `n` best-scoring passages (score > 0, among `allowed`), and the scores of those and of `also`."""
        bm25 = self.scores(stems)  # every passage's score: the other retrievers' candidates get theirs too
        if earlier_stems and earlier_weight > 0:
            bm25 = bm25 + earlier_weight * self.scores(list(earlier_stems))
        if allowed is not None:
            ranked = np.full_like(bm25, -1.0)
            positions = self.positions(sorted(allowed))
            positions = positions[positions >= 0]
            ranked[positions] = bm25[positions]
        else:
            ranked = bm25
        count = min(n, len(bm25))
        if count <= 0:
            return [], {}
        # Only the passages that may be among the best are partitioned: those scoring at least the count-th best
        # score among the passages holding the question's rarest stems (a bound from below; else all that score,
        # about half of the passages). At a million passages the partition of all that score took ~1 ms, and
        # up to ~30 when many scores tie (copies of one story). Best first, ties in passage order.
        top = np.flatnonzero(ranked >= self._floor(ranked, stems, count, allowed is None))
        if len(top) > count:
            top = np.sort(top[np.argpartition(-ranked[top], count - 1)[:count]])
        top = top[np.argsort(-ranked[top], kind="stable")]
        top_ids = self.ids[top].tolist()
        wanted = list(dict.fromkeys([*also, *top_ids]))
        scores = {pid: float(bm25[at]) for pid, at in zip(wanted, self.positions(wanted).tolist()) if at >= 0}
        return top_ids, scores

    def _floor(self, ranked: np.ndarray, stems: list[str], count: int, whole: bool) -> float:
        """The least score worth partitioning: the `count`-th best among passages holding the rarest stems (any
        `count` passages' scores bound the `count`-th best from below), or just above 0 when they are too few."""
        if not whole:
            return ABOVE_ZERO
        scores = ranked[self.base.rarest_postings(stems, FLOOR_HINT * count)]
        scores = scores[scores > 0]
        if len(scores) < count:
            return ABOVE_ZERO
        return float(np.partition(scores, len(scores) - count)[len(scores) - count])


class Sentences:
    """Sentence vectors of base and delta passages (dead passages are never asked for, and not found)."""

    def __init__(self, base: SentenceIndex, delta: Delta, dead: np.ndarray) -> None:
        self.base = base
        self.delta = delta
        self.dead = dead
        self._first_recent = int(delta.ids[0]) if len(delta) else None

    def __len__(self) -> int:
        return len(self.base) + len(self.delta.sentences)

    def _part(self, pid: int) -> SentenceIndex:
        return self.delta.sentences if self._first_recent is not None and pid >= self._first_recent else self.base

    def of(self, pid: int) -> np.ndarray:
        return self._part(pid).of(pid)

    def cosines(self, pids: list[int], query: np.ndarray) -> list[np.ndarray]:
        if self._first_recent is None:
            return self.base.cosines(pids, query)
        old = [p for p in pids if p < self._first_recent]
        new = [p for p in pids if p >= self._first_recent]
        found = dict(zip(old, self.base.cosines(old, query)))
        found.update(zip(new, self.delta.sentences.cosines(new, query)))
        return [found[p] for p in pids]

    def best_cosines(self, pids: list[int], query: np.ndarray) -> np.ndarray:
        return np.asarray([c.max() if len(c) else np.nan for c in self.cosines(pids, query)], dtype=np.float32)

    def search(self, query: np.ndarray, n: int) -> list[tuple[int, int, float]]:
        dead = frozenset(self.dead.tolist())
        found = [hit for hit in self.base.search(query, n + 4 * len(dead)) if hit[0] not in dead]
        found += self.delta.sentences.search(query, n)
        found.sort(key=lambda hit: -hit[2])
        return found[:n]
