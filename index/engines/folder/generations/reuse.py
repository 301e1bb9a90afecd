"""The vectors of committed passages, read back from the generation that holds them.

Each vector is stored once, in the generation's files; the embedding cache keeps only what an update has
computed and not committed yet (so a crash loses no work) and is emptied by each commit. A rebuild, a
change of settings, an edited article's unchanged passages and a copy into PostgreSQL (`export`) take
their vectors from here. Kept as a second copy, the cache took 7 KB of the 18 KB a passage cost on disk.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from index.engines.folder.generations.files import GenerationFolder
from index.engines.folder.generations.kept import SpilledVectors
from index.engines.folder.generations.sentence_index import VECTORS_FILE, decoded
from index.engines.folder.generations.sentence_writer import RowFile
from index.engines.folder.generations.sorted_ids import positions


class CommittedVectors(Mapping[bytes, tuple[np.ndarray, np.ndarray]]):
    """Passage and sentence vectors of committed passages by text hash, each read from the files when asked for.

    Passage vectors come back as the graph keeps them (float16, which storing them again leaves as they are, or
    8-bit codes from 65,536 passages), sentence vectors as their rows hold them (8-bit codes). A full build after
    deltas codes both again on the same steps; a rebuild learns new steps, so it rounds them once more. Neither is
    held in memory: the graph's vectors are copied to a scratch file and the graph let go (a rebuild builds a new
    one meanwhile), and sentence rows are read with plain reads (mapped, their pages would count as the process's
    memory: 2.3 GB at a million passages).
    """

    def __init__(self, files: GenerationFolder, generation: int, wanted: Mapping[bytes, int],
                 sentences: Mapping[bytes, int] | None = None) -> None:
        """`wanted`: text hash -> passage id; `sentences` (text hash -> how many the passage has now), when
        given, leaves out a passage stored with another number of sentence vectors (it was split otherwise).

        `ValueError` or `IndexCorrupt` when a file cannot be read."""
        previous = files.read_delta(generation)
        self.delta = previous[0] if previous else None
        self.recent = {int(pid): row for row, pid in enumerate(self.delta.ids.tolist())} if self.delta is not None else {}
        graph = files.read_vectors(generation)  # a delta generation's name links its base's files
        self.base = SpilledVectors(files.directory, graph, None, np.zeros(0, dtype=np.int64))
        del graph
        self._by_id = np.argsort(self.base.ids, kind="stable")  # rows of the scratch file in passage id order
        self._sorted_ids = self.base.ids[self._by_id]
        self.rows = files.read_sentences(generation)
        self._row_file = RowFile(files.sentences_path(generation) / VECTORS_FILE, self.rows.vectors.dtype, self.rows.vectors.shape[1])
        held = positions(self._sorted_ids, list(wanted.values())) >= 0
        self.pids = {
            digest: pid
            for (digest, pid), graphed in zip(wanted.items(), held.tolist())
            if (pid in self.recent or graphed) and (sentences is None or self._count(pid) == sentences[digest])
        }
        self.lacking = len(wanted) - len(self.pids)  # passages the files do not hold (or hold split otherwise)

    def _count(self, pid: int) -> int:
        if pid in self.recent:
            return len(self.delta.sentences.of(pid))
        position = int(positions(self.rows.passage_ids, [pid])[0])
        return int(self.rows.offsets[position + 1] - self.rows.offsets[position]) if position >= 0 else -1

    def __getitem__(self, digest: bytes) -> tuple[np.ndarray, np.ndarray]:
        pid = self.pids[digest]
        if pid in self.recent:
            return self.delta.vectors[self.recent[pid]].copy(), self.delta.sentences.of(pid)
        vector = self.base.vector(int(self._by_id[positions(self._sorted_ids, [pid])[0]]))
        position = int(positions(self.rows.passage_ids, [pid])[0])
        if position < 0:
            return vector, np.zeros((0, self.base.dimension), dtype=np.float32)
        rows = self._row_file[int(self.rows.offsets[position]) : int(self.rows.offsets[position + 1])]
        return vector, decoded(rows, self.rows.scales)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.pids)

    def __len__(self) -> int:
        return len(self.pids)
