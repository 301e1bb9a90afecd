"""One generation's passages as readers see them: the base files plus the recent segments (see `recent`), minus the
passages removed since the base was built ("dead", in the base or in a segment). The three views answer what search
asks of passage vectors, BM25 and sentence vectors, whichever segment a passage is in. Segments hold ascending,
disjoint id ranges above every base id, so a passage's segment is found by its id.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import faiss
import numpy as np

from index.engines.common import EF_SEARCH, EXACT_SCAN, K1, B, scan
from index.engines.folder.generations.delta import Delta
from index.engines.folder.generations.keyword_index import KeywordIndex
from index.engines.folder.generations.sentence_index import SentenceIndex
from index.engines.folder.generations.sorted_ids import positions

FLOOR_HINT = 4  # passages of the rarest stems read for BM25's floor, per candidate asked for (`Keywords._floor`)
ABOVE_ZERO = float(np.nextafter(np.float32(0), np.float32(1)))  # the least positive float32


class Parts:
    """Which segment holds a passage id, and each segment's dead passages (shared by the three views)."""

    def __init__(self, segments: Sequence[Delta], dead: np.ndarray) -> None:
        self.segments = [s for s in segments if len(s)]
        self.firsts = np.asarray([int(s.ids[0]) for s in self.segments], dtype=np.int64)
        self.dead = dead  # ascending
        self.dead_set = frozenset(dead.tolist())
        recent = np.concatenate([s.ids for s in self.segments]) if self.segments else np.zeros(0, dtype=np.int64)
        in_recent = np.isin(dead, recent)
        self.base_dead = dead[~in_recent]
        # Per segment: its dead passages and a mask of the live ones (None when all live): made once a version.
        self.dead_in = [dead[in_recent][np.isin(dead[in_recent], s.ids)] for s in self.segments]
        self.alive = [~np.isin(s.ids, d) if len(d) else None for s, d in zip(self.segments, self.dead_in)]

    def __len__(self) -> int:
        return sum(len(s) for s in self.segments)

    def of(self, pid: int) -> int:
        """The segment whose id range holds `pid`, -1 for the base."""
        return int(np.searchsorted(self.firsts, pid, side="right")) - 1

    def split(self, pids: np.ndarray) -> np.ndarray:
        """`of` for each id."""
        return np.searchsorted(self.firsts, np.asarray(pids, dtype=np.int64), side="right") - 1


class PassageVectors:
    """Passage vectors: the base HNSW graph and the segments' rows (or their own graphs), without dead passages."""

    def __init__(self, base: faiss.Index, parts: Parts) -> None:
        self.base = base
        self.parts = parts
        self.d = base.d
        self.ntotal = int(base.ntotal) - len(parts.dead) + len(parts)

    def reconstruct(self, pid: int) -> np.ndarray:
        return self.reconstruct_batch(np.asarray([pid]))[0]

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), self.d), dtype=np.float32)
        where = self.parts.split(ids)
        for i in np.unique(where[where >= 0]).tolist():
            segment = self.parts.segments[i]
            mine = np.flatnonzero(where == i)
            found = positions(segment.ids, ids[mine])
            out[mine[found >= 0]] = segment.vectors[found[found >= 0]]
            where[mine[found < 0]] = -1  # (not in the segment: asked of the base, which says so)
        if (where < 0).any():
            out[where < 0] = self.base.reconstruct_batch(ids[where < 0])
        return out

    def nearest(self, query: np.ndarray, n: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        """The `n` passages closest to `query`, only among `allowed` when given (restricted inside the search).

        A few thousand allowed passages are scanned exactly; more are searched in the HNSW graph with an
        id selector, so a narrow filter still finds its best passages rather than none of a global top n.
        Each segment is scanned exactly, or searched in its own graph when large; dead passages are never returned.
        """
        if allowed is not None and len(allowed) <= EXACT_SCAN:
            return scan(self, query, n, allowed)
        found: list[tuple[int, float]] = []
        dead = self.parts.dead_set
        if self.base.ntotal:
            params = None
            if allowed is not None:
                selector = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=EF_SEARCH)
            wanted = min(n + len(self.parts.base_dead), self.base.ntotal)
            scores, ids = self.base.search(query.reshape(1, -1), wanted, params=params)
            found = [(pid, s) for pid, s in zip(ids[0].tolist(), scores[0].tolist()) if pid >= 0 and pid not in dead]
        if self.parts.segments:
            allowing = np.fromiter(allowed, dtype=np.int64, count=len(allowed)) if allowed is not None else None
            for i in range(len(self.parts.segments)):
                ids, scores = self._recent(i, query, n, allowed, allowing)
                found += list(zip(ids.tolist(), scores.tolist()))
            found.sort(key=lambda item: -item[1])
        return found[:n]

    def _recent(self, i: int, query: np.ndarray, n: int, allowed: set[int] | None,
                allowing: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Segment `i`'s own best `n` live passages (only they can make the merged top n): from its graph, or scanned
        when small or when few of its passages are allowed (a filtered graph search may miss a few allowed among many).
        `allowing`: `allowed` as an array, made once for every segment."""
        segment, alive, dead = self.parts.segments[i], self.parts.alive[i], self.parts.dead_in[i]
        ids, vectors = segment.ids, segment.vectors
        keep = alive
        if allowed is not None:
            if allowing is None:
                allowing = np.fromiter(allowed, dtype=np.int64, count=len(allowed))
            keep = np.isin(ids, allowing)
            if alive is not None:
                keep &= alive
        if segment.graph is not None and (allowed is None or keep.sum() > EXACT_SCAN):
            ids, scores = segment.graph.nearest(query, n + len(dead), allowed)
            if len(dead):
                live = ~np.isin(ids, dead)
                ids, scores = ids[live], scores[live]
            return ids[:n], scores[:n]
        if keep is not None:
            ids, vectors = ids[keep], vectors[keep]
        scores = vectors @ query
        if len(ids) > n:
            top = np.argpartition(-scores, n - 1)[:n]
            ids, scores = ids[top], scores[top]
        return ids, scores


class Keywords:
    """BM25 over base and segments: the base's precomputed scores and the segments' scored with the same constants
    and the combined document frequencies; dead passages score zero."""

    def __init__(self, base: KeywordIndex, parts: Parts) -> None:
        self.base = base
        self.base.warm()
        self.parts = parts
        segments = parts.segments
        self.ids = np.concatenate([base.ids, *(s.ids for s in segments)])
        self._starts = len(base.ids) + np.concatenate([[0], np.cumsum([len(s) for s in segments])]).astype(np.int64)
        self._dead_positions = positions(self.ids, parts.dead)
        self._documents = len(self.ids)
        self._alive = self._documents - len(parts.dead)
        recent = np.concatenate([s.lengths for s in segments]) if segments else np.zeros(0)
        average = base.average_length or float(recent.mean() if len(recent) else 1.0) or 1.0
        self._norms = [K1 * ((1 - B) + B * s.lengths / average) for s in segments]  # BM25's length norm of each passage
        # Each stem's count once a version: a question asks it of hundreds of stems (its candidates' words too), each
        # looked up in every segment (3% of a question's time with five segments at a million passages, py-spy).
        self._frequencies: dict[str, int] = {}

    def __len__(self) -> int:
        return self._alive

    def frequency(self, stem: str) -> int:
        """How many passages hold this stem (base and segments, dead ones counted as bm25s counts the base's)."""
        found = self._frequencies.get(stem)
        if found is None:
            found = self.base.frequency(stem) + sum(segment.terms.frequency(stem) for segment in self.parts.segments)
            self._frequencies[stem] = found  # (the same value whichever thread writes it first)
        return found

    def frequencies(self, stems: list[str]) -> dict[str, int]:
        """How many passages hold each stem."""
        return {s: self.frequency(s) for s in stems}

    def scores(self, stems: list[str]) -> np.ndarray:
        """The BM25 score of every passage (aligned with `ids`) for these distinct query stems."""
        row = np.zeros(len(self.ids), dtype=np.float32)  # the base's scores written in place: no copy to join
        if len(self.base.ids):
            self.base.scores(stems, out=row[: len(self.base.ids)])
        if self.parts.segments:
            stems = list(dict.fromkeys(stems))
            idfs = {}
            for stem in stems:
                frequency = self.frequency(stem)
                idfs[stem] = math.log(1 + (self._documents - frequency + 0.5) / (frequency + 0.5))
            # Each segment's postings of all the stems summed at once (a few array steps a segment, where five steps
            # per stem and segment cost ~0.8 ms a question with 11 segments at a million passages), in float64,
            # rounded once.
            for segment, norms, start, end in zip(self.parts.segments, self._norms, self._starts, self._starts[1:]):
                found = [(idfs[stem], posting) for stem in stems if (posting := segment.terms.get(stem)) is not None]
                if not found:
                    continue
                where = np.concatenate([posting[0] for _, posting in found])
                counts = np.concatenate([posting[1] for _, posting in found]).astype(np.float64)
                idf = np.repeat([weight for weight, _ in found], [len(posting[0]) for _, posting in found])
                sums = np.bincount(where, weights=idf * counts / (norms[where] + counts), minlength=int(end - start))
                row[start:end] += sums.astype(np.float32)
        if len(self._dead_positions):
            row[self._dead_positions[self._dead_positions >= 0]] = 0.0
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
        # up to ~30 when many scores tie (copies of one story). Best first, ties in passage order, the cut too (the
        # passages tied at the count-th score are the first ones): the same list whatever the floor.
        top = np.flatnonzero(ranked >= self._floor(ranked, stems, count, allowed is None))
        if len(top) > count:
            scores = ranked[top]
            last = scores[np.argpartition(-scores, count - 1)[count - 1]]  # the count-th best score
            above = top[scores > last]
            top = np.sort(np.concatenate([above, top[scores == last][: count - len(above)]]))
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
    """Sentence vectors of base and segment passages (dead passages are never asked for, and not found)."""

    def __init__(self, base: SentenceIndex, parts: Parts) -> None:
        self.base = base
        self.parts = parts

    def __len__(self) -> int:
        return len(self.base) + sum(len(s.sentences) for s in self.parts.segments)

    def _part(self, i: int) -> SentenceIndex:
        return self.parts.segments[i].sentences if i >= 0 else self.base

    def of(self, pid: int) -> np.ndarray:
        return self._part(self.parts.of(pid)).of(pid)

    def cosines(self, pids: list[int], query: np.ndarray) -> list[np.ndarray]:
        if not self.parts.segments:
            return self.base.cosines(pids, query)
        where = self.parts.split(pids).tolist()
        found: dict[int, np.ndarray] = {}
        for i in dict.fromkeys(where):
            mine = [p for p, w in zip(pids, where) if w == i]
            found.update(zip(mine, self._part(i).cosines(mine, query)))
        return [found[p] for p in pids]

    def best_cosines(self, pids: list[int], query: np.ndarray) -> np.ndarray:
        return np.asarray([c.max() if len(c) else np.nan for c in self.cosines(pids, query)], dtype=np.float32)

    def search(self, query: np.ndarray, n: int) -> list[tuple[int, int, float]]:
        dead = self.parts.dead_set
        found = [hit for hit in self.base.search(query, n + 4 * len(self.parts.base_dead)) if hit[0] not in dead]
        for segment, gone in zip(self.parts.segments, self.parts.dead_in):
            found += [hit for hit in segment.sentences.search(query, n + 8 * len(gone)) if hit[0] not in dead]
        found.sort(key=lambda hit: -hit[2])
        return found[:n]
