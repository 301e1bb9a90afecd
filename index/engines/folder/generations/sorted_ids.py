"""Where passage ids stand in an ascending array of them: how each part of a generation (graph, BM25 columns,
sentence rows, delta) is looked up by passage id."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def positions(ids: np.ndarray, wanted: np.ndarray | Sequence[int]) -> np.ndarray:
    """Index of each wanted id in the ascending `ids`; -1 where absent (a binary search each)."""
    wanted = np.asarray(wanted, dtype=np.int64)
    if not len(ids):
        return np.full(len(wanted), -1, dtype=np.int64)
    found = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1)
    return np.where(ids[found] == wanted, found, -1)
