"""The vectors of committed passages, read back from the generation that holds them.

Each vector is stored once, in the generation's files; the embedding cache keeps only what an update has
computed and not committed yet (so a crash loses no work) and is emptied by each commit. A rebuild, a
change of settings, an edited article's unchanged passages and a copy into PostgreSQL (`export`) take
their vectors from here. Kept as a second copy, the cache took 7 KB of the 18 KB a passage cost on disk.
"""

from __future__ import annotations

import numpy as np

from index.engines.folder.generations.files import GenerationFolder
from index.engines.writer import Vectors


def committed_vectors(files: GenerationFolder, generation: int, wanted: dict[bytes, int]) -> Vectors:
    """Passage and sentence vectors, as `generation` holds them, of `wanted` (text hash -> passage id).

    Passage vectors come back as the graph keeps them (float16, which storing them again leaves as they are),
    sentence vectors as their rows hold them (8-bit codes: a full build after deltas codes them again on the
    same steps, a rebuild sets new steps). `ValueError` or `IndexCorrupt` when a file cannot be read,
    `KeyError` for a passage the generation lacks.
    """
    if not wanted:
        return {}
    previous = files.read_delta(generation)
    delta = previous[0] if previous else None
    recent = {int(pid): row for row, pid in enumerate(delta.ids.tolist())} if delta is not None else {}
    base = files.read_vectors(generation)  # a delta generation's name links its base's files
    sentences = files.read_sentences(generation)
    found: Vectors = {}
    for digest, pid in wanted.items():
        if pid in recent:
            found[digest] = (delta.vectors[recent[pid]].copy(), delta.sentences.of(pid))
        else:
            try:
                vector = base.reconstruct(pid)
            except RuntimeError as exc:  # faiss: an id the map does not know
                raise KeyError(f"passage {pid} is not in generation {generation}'s vectors") from exc
            found[digest] = (np.asarray(vector, dtype=np.float32), sentences.of(pid))
    return found
