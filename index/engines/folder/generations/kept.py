"""What a full build keeps of the previous generation, read so that memory does not grow with the index: its passage
vectors are copied to a scratch file first, so its graph is let go before the new one is built rather than held
beside it (about 1 GB each at a million passages), and its sentence rows are read in blocks with plain reads, not
through the memory map, whose pages would count as the build's memory (2.3 GB at a million passages).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np

from index.engines.folder.generations import vector_index
from index.engines.folder.generations.delta import Delta
from index.engines.folder.generations.sentence_index import SentenceIndex, decoded
from index.engines.folder.generations.sentence_writer import RowFile
from index.engines.folder.generations.sorted_ids import positions

SENTENCE_BLOCK = 4096  # passages whose sentence rows are read at once
SPAN_LIMIT = 8 * SENTENCE_BLOCK * 8  # rows one read may span (~8 a passage; many removals between: one read each)


class SpilledVectors:
    """The live passage vectors of the previous generation (its graph's, then its delta's, but for `dead` ids) in an
    unnamed scratch file beside the index (gone with the process whatever happens), read back a chunk at a time."""

    def __init__(self, directory: Path, graph: faiss.Index, delta: Delta | None, dead: np.ndarray) -> None:
        self.dimension = graph.d
        self._file = tempfile.TemporaryFile(dir=directory, prefix=".vectors-", suffix=".tmp")
        kept = []
        recent = [(delta.vectors, delta.ids)] if delta is not None else []
        for matrix, ids in itertools.chain(vector_index.chunks_of(graph), recent):
            keep = ~np.isin(ids, dead)
            self._file.write(np.ascontiguousarray(matrix[keep], dtype=np.float32).tobytes())
            kept.append(ids[keep])
        self.ids = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
        self._file.flush()
        self._row_bytes = self.dimension * np.dtype(np.float32).itemsize

    def vector(self, row: int) -> np.ndarray:
        """The vector written `row`-th (one read)."""
        data = os.pread(self._file.fileno(), self._row_bytes, row * self._row_bytes)
        return np.frombuffer(data, dtype=np.float32).copy()

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """`(vectors, passage ids)`, `vector_index.ADD_CHUNK` at a time, in the order written."""
        self._file.seek(0)
        row_bytes = self._row_bytes
        for start in range(0, len(self.ids), vector_index.ADD_CHUNK):
            count = min(vector_index.ADD_CHUNK, len(self.ids) - start)
            matrix = np.frombuffer(self._file.read(count * row_bytes), dtype=np.float32).reshape(count, self.dimension)
            yield matrix, self.ids[start : start + count]

    def close(self) -> None:
        self._file.close()


def kept_sentences(
    previous: SentenceIndex, rows_path: Path, delta: Delta | None, kept_ids: np.ndarray
) -> Iterator[tuple[int, np.ndarray]]:
    """`(passage id, sentence vectors)` of the kept passages in id order: the base's read from `rows_path` (the
    previous generation's `vectors.npy`) a block at a time, then the delta's (whose ids are all larger)."""
    pids = np.sort(kept_ids)
    in_delta = pids >= delta.ids[0] if delta is not None and len(delta.ids) else np.zeros(len(pids), dtype=bool)
    yield from _base_sentences(previous, rows_path, pids[~in_delta])
    for pid in pids[in_delta].tolist():
        yield pid, delta.sentences.of(pid)


def _base_sentences(previous: SentenceIndex, rows_path: Path, pids: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """The base's sentence vectors of `pids` (sorted): each block of passages' rows in one read (with the rows of
    removed passages between them, skipped), or passage by passage when removals spread a block too wide."""
    if not len(pids):
        return
    stored = RowFile(rows_path, previous.vectors.dtype, previous.vectors.shape[1])
    try:
        found = positions(previous.passage_ids, pids)  # -1: a passage the base holds no rows for
        offsets = previous.offsets
        for start in range(0, len(pids), SENTENCE_BLOCK):
            block = found[start : start + SENTENCE_BLOCK]
            held = block[block >= 0]
            first = int(offsets[held[0]]) if len(held) else 0
            last = int(offsets[held[-1] + 1]) if len(held) else 0
            read = stored[first:last] if last - first <= SPAN_LIMIT else None
            for pid, position in zip(pids[start : start + SENTENCE_BLOCK].tolist(), block.tolist()):
                if position < 0:
                    yield pid, np.zeros((0, stored.shape[1]), dtype=np.float32)
                    continue
                begin, end = int(offsets[position]), int(offsets[position + 1])
                rows = read[begin - first : end - first] if read is not None else stored[begin:end]
                yield pid, decoded(rows, previous.scales)
    finally:
        stored.close()
