"""In-memory BM25 over title + passage stems (bm25s), one per index generation.

FTS5 scores every passage that holds any query term before it can sort, which took ~55 ms (p95
~105 ms) per question on 65k news passages. bm25s precomputes each (term, passage) BM25 score into
a sparse matrix, so a question is a sum of a few rows: well under a millisecond, and it scores
*every* passage, so dense candidates get their true keyword score too.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
from array import array
from collections.abc import Iterable
from pathlib import Path

import bm25s
import numpy as np
from tqdm import tqdm

from index.engines.common import K1, B
from index.engines.folder.generations.durable import write_folder
from index.engines.folder.generations.sorted_ids import positions
from index.text.keywords import TITLE_REPEAT, document_tokens

IDS_FILE = "passage_ids.npy"
FORMAT_FILE = "newsbot.json"
FORMAT = {"format": 1, "title_repeat": TITLE_REPEAT, "k1": K1, "b": B}

# Passages from which a question's BM25 sums run compiled, when numba is installed (`pip install 'newsbot[large]'`;
# see `_compiled_sum`). Optional: once installed, every `import bm25s` imports it too (~60 MB, ~0.2 s a process).
COMPILED_FROM = 100_000

logging.getLogger("bm25s").setLevel(logging.WARNING)


@functools.cache
def _compiled_sum():
    """The question's postings added into a given row of scores, compiled once a process (~0.3 s).

    bm25s sums them with `np.add.at`: p50 / p95 2.5 / 4.6 ms a question at a million passages, 1.3 / 2.4
    compiled; 0.74 / 0.26 ms p50 at 326k, 0.14 / 0.05 at 65k (`benchmarks/bm25_scoring.py`). Its own numba
    scorer returns a new row each call, where a generation with a delta wants the base's scores written into
    one row with the delta's (at a million passages the join alone cost 0.45 ms).
    Same sums in the same order as bm25s's: the same float32 scores, bit for bit.
    """
    import numba  # (installed: checked by `_numba_installed`)

    @numba.njit(cache=False)
    def add_postings(out, data, indices, indptr, tokens):  # pragma: no cover - compiled
        for token in tokens:
            for j in range(indptr[token], indptr[token + 1]):
                out[indices[j]] += data[j]

    return add_postings


@functools.cache
def _numba_installed() -> bool:
    return importlib.util.find_spec("numba") is not None


class KeywordIndex:
    """BM25 scores of every passage of one generation; `ids[i]` is the passage id of column i."""

    def __init__(self, retriever: bm25s.BM25 | None, ids: np.ndarray, average_length: float | None = None,
                 compiled_from: int | None = None) -> None:
        self.retriever = retriever
        self.ids = ids
        self.average_length = average_length  # stems per passage, for scoring a delta alike (None: unknown)
        large = len(ids) >= (COMPILED_FROM if compiled_from is None else compiled_from)
        self.compiled = retriever is not None and large and _numba_installed()

    def warm(self) -> None:
        """Compile the sums for these arrays' types now (a reader loading the index), not on the first question (a
        writer, which only reads `ids`, does not compile)."""
        if self.compiled:
            _compiled_sum()(np.zeros(1, np.float32), *self._postings(), np.zeros(0, np.int64))

    @classmethod
    def build(cls, passages: Iterable[tuple[int, str, str]], total: int | None = None, progress: bool = False) -> KeywordIndex:
        """Index `(passage id, title, passage text)` rows, in ascending id order.

        Each passage is held as an array of 4-byte stem numbers while the index is built, not as the list of
        stem strings and then the list of Python ints that bm25s makes of them (~9 KB a passage together).
        """
        ids: list[int] = []
        vocabulary: dict[str, int] = {}
        corpus: list[array[int]] = []
        rows = tqdm(passages, total=total, desc="Keyword index", unit="passage", disable=not progress, leave=False)
        for pid, title, body in rows:
            ids.append(pid)
            corpus.append(array("i", [vocabulary.setdefault(stem, len(vocabulary)) for stem in document_tokens(title, body)]))
        id_array = np.asarray(ids, dtype=np.int64)
        if np.any(np.diff(id_array) <= 0):
            raise ValueError("passages must come in ascending id order")
        if not corpus:
            return cls(None, id_array)
        retriever = bm25s.BM25(k1=K1, b=B, method="lucene", backend="numpy")  # (sums compiled here, if at all)
        retriever.index((corpus, vocabulary), show_progress=False)
        return cls(retriever, id_array, sum(map(len, corpus)) / len(corpus))

    def __len__(self) -> int:
        return len(self.ids)

    def save(self, directory: Path, generation: int) -> None:
        """Write durably under `directory` as `generation`'s index (temp folder, then renamed into place)."""

        def fill(tmp: Path) -> None:
            if self.retriever is not None:
                self.retriever.save(str(tmp), show_progress=False)
            np.save(tmp / IDS_FILE, self.ids)
            (tmp / FORMAT_FILE).write_text(self.format_text(generation))

        write_folder(directory, fill)

    def format_text(self, generation: int) -> str:
        """The folder's format file for `generation` (a linked copy for a later generation gets its own)."""
        return json.dumps({**FORMAT, "generation": generation, "average_length": self.average_length})

    @classmethod
    def load(cls, directory: Path, generation: int) -> KeywordIndex:
        """Read `generation`'s saved index (memory-mapped).

        `ValueError` when it is missing, unreadable, of other settings or of another generation (a
        folder left by an update that crashed before its commit).
        """
        directory = Path(directory)
        written = cls.check(directory, generation)
        try:
            ids = np.load(directory / IDS_FILE)
            retriever = None
            if len(ids):
                retriever = bm25s.BM25.load(str(directory), mmap=True, show_progress=False)
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"cannot read the keyword index {directory}: {exc}") from exc
        return cls(retriever, ids, written.get("average_length"))

    @staticmethod
    def check(directory: Path, generation: int) -> dict:
        """The format file of `generation`'s saved index; `ValueError` when missing, unreadable, of other settings or
        of another generation."""
        try:
            written = json.loads((Path(directory) / FORMAT_FILE).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the keyword index {directory}: {exc}") from exc
        if not isinstance(written, dict) or {k: written.get(k) for k in (*FORMAT, "generation")} != {**FORMAT, "generation": generation}:
            raise ValueError(f"cannot read the keyword index {directory}: {directory} was written with other settings or "
                             "for another index version")
        return written

    def scores(self, stems: list[str], out: np.ndarray | None = None) -> np.ndarray:
        """The BM25 score of every passage (aligned with `ids`) for these distinct query stems, added into `out`
        (float32, zeros, one per passage; a slice of a longer row is how a delta's scores join without a copy)."""
        out = np.zeros(len(self.ids), dtype=np.float32) if out is None else out
        if self.retriever is None:
            return out
        known = [s for s in dict.fromkeys(stems) if s in self.retriever.vocab_dict]
        if not known:
            return out
        if self.compiled:
            tokens = np.asarray([self.retriever.vocab_dict[s] for s in known], dtype=np.int64)
            _compiled_sum()(out, *self._postings(), tokens)
        else:
            out += self.retriever.get_scores(known)
        return out

    def _postings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """bm25s's precomputed scores as a sparse matrix, one row per stem: (data, indices, indptr)."""
        matrix = self.retriever.scores
        return matrix["data"], matrix["indices"], matrix["indptr"]

    def rarest_postings(self, stems: list[str], at_least: int) -> np.ndarray:
        """Columns of the passages holding the query's rarest stems, rarer first, until `at_least` are taken
        (fewer when the stems hold fewer): passages likely to score high, whose scores bound the best ones.

        Of the last stem taken only as many as are missing: at a million passages the rarest stems may hold tens of
        thousands, and taking them all cost 1.3 ms at the p95 a question, against 0.2 (the bound it gives is
        lower, so more passages are partitioned: 0.7 ms p95 in all instead of 1.5; the 449 questions timed by a scratch
        script on `benchmarks/scale.py`'s million-passage index).
        """
        if self.retriever is None:
            return np.zeros(0, dtype=np.int64)
        indptr, columns = self.retriever.scores["indptr"], self.retriever.scores["indices"]
        tokens = sorted(
            (t for t in (self.retriever.vocab_dict.get(s) for s in dict.fromkeys(stems)) if t is not None),
            key=lambda t: indptr[t + 1] - indptr[t],
        )
        taken, count = [], 0
        for token in tokens:
            start = indptr[token]
            taken.append(np.asarray(columns[start : min(indptr[token + 1], start + at_least - count)]))
            count += len(taken[-1])
            if count >= at_least:
                break
        return np.unique(np.concatenate(taken)) if taken else np.zeros(0, dtype=np.int64)

    def frequency(self, stem: str) -> int:
        """How many passages hold this stem."""
        if self.retriever is None:
            return 0
        token = self.retriever.vocab_dict.get(stem)
        if token is None:
            return 0
        indptr = self.retriever.scores["indptr"]
        return int(indptr[token + 1] - indptr[token])

    def positions(self, pids: list[int]) -> np.ndarray:
        """Column of each passage id (ids are sorted); -1 for an id not in this generation."""
        return positions(self.ids, pids)
