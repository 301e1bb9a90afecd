"""A delta's BM25 term counts: for each stem, the delta positions of the passages holding it and how often.

Kept as one sparse matrix, a row per stem (`offsets` into `positions` and `counts`), not a dict of small arrays:
an update that carried a 60,000-passage delta's stems over one at a time spent 1.1 s in that loop alone
(`benchmarks/scale.py --updates`, profiled); rows are now dropped, moved and joined in a few whole-array steps (`joined`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np


class Postings:
    """Stem -> (positions in the delta's ids, ascending; counts), as `get` returns them."""

    def __init__(self, stems: list[str], offsets: np.ndarray, positions: np.ndarray, counts: np.ndarray) -> None:
        self.stems = stems
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.positions = np.asarray(positions, dtype=np.int64)
        self.counts = np.asarray(counts, dtype=np.float32)
        self._row = {stem: row for row, stem in enumerate(stems)}

    @classmethod
    def of(cls, documents: Iterable[list[str]]) -> Postings:
        """The postings of token lists, the first at position 0."""
        rows: dict[str, tuple[list[int], list[int]]] = {}
        for position, tokens in enumerate(documents):
            for stem, count in Counter(tokens).items():
                where, counts = rows.setdefault(stem, ([], []))
                where.append(position)
                counts.append(count)
        stems = list(rows)
        lengths = [len(rows[s][0]) for s in stems]
        positions = [p for s in stems for p in rows[s][0]]
        counts = [c for s in stems for c in rows[s][1]]
        return cls(stems, np.concatenate([[0], np.cumsum(lengths)]), positions, counts)

    def __len__(self) -> int:
        return len(self.stems)

    def __iter__(self) -> Iterator[str]:
        return iter(self.stems)

    def frequency(self, stem: str) -> int:
        """How many of the delta's passages hold `stem`."""
        row = self._row.get(stem)
        return 0 if row is None else int(self.offsets[row + 1] - self.offsets[row])

    def get(self, stem: str) -> tuple[np.ndarray, np.ndarray] | None:
        row = self._row.get(stem)
        if row is None:
            return None
        start, end = self.offsets[row], self.offsets[row + 1]
        return self.positions[start:end], self.counts[start:end]

    @classmethod
    def joined(cls, parts: list[tuple[Postings, np.ndarray]]) -> Postings:
        """The postings of several parts in one, each part's position p moved to `to[p]` (-1: the passage is gone, its
        postings dropped): within a stem, the parts' postings in the order given; stems left with none are dropped."""
        stems: list[str] = []
        row: dict[str, int] = {}
        rows, positions, counts = [], [], []
        for postings, to in parts:
            for stem in postings.stems:
                if stem not in row:
                    row[stem] = len(stems)
                    stems.append(stem)
            own = np.asarray([row[s] for s in postings.stems], dtype=np.int64)
            at = to[postings.positions] if len(postings.positions) else np.zeros(0, np.int64)
            kept = at >= 0
            rows.append(np.repeat(own, np.diff(postings.offsets))[kept])
            positions.append(at[kept])
            counts.append(postings.counts[kept])
        rows_all = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        order = np.argsort(rows_all, kind="stable")  # by stem; within a stem, by part, then as each part held them
        per_stem = np.bincount(rows_all, minlength=len(stems))
        alive = np.flatnonzero(per_stem)
        return cls([stems[i] for i in alive.tolist()], np.concatenate([[0], np.cumsum(per_stem[alive])]),
                   np.concatenate(positions)[order] if positions else np.zeros(0, np.int64),
                   np.concatenate(counts)[order] if counts else np.zeros(0, np.float32))
