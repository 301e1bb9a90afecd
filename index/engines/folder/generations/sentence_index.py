"""Sentence vectors of one index generation: exact rows for scoring a passage's sentences, and a
nearest-neighbour index over them, so a passage whose one sentence fits a question is found even
when the passage as a whole is not close to it.

The vectors are pooled from the passage's own token embeddings at index time (`Embedder.
encode_with_sentences`) and kept as rows, passage by passage in id order: `offsets[i]` is the first
row of the passage `passage_ids[i]`. A generation's rows are 8-bit codes, each dimension on its own
step (`scales`): 384 bytes a sentence, half of the float16 rows of indexes written before, which are
still read (a delta's few rows stay float16). Small corpora are scanned exactly; large ones get an
inverted-file index of 48-byte product-quantized codes (IVF-PQ), whose nearest sentences are scored
again on the rows. Only the sentence retriever searches it, which the default ranking leaves off, so it is
built in memory on a process's first search rather than written with every full build (at a million passages
it was 132 s of a 380 s fold, and 56 bytes a sentence on disk); an `ann.faiss` written before is still read.
"""

from __future__ import annotations

import json
import logging
import threading
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import faiss
import numpy as np

from index.engines.folder.generations.durable import write_folder

log = logging.getLogger(__name__)
ROW_DTYPE = np.float16
EXACT_LIMIT = 40_000  # up to this many sentences a flat scan costs under a millisecond
PROBES = 24  # inverted lists searched per question
TRAIN_PER_LIST = 40  # training sentences per inverted list (faiss asks for at least 39)
CODE_BYTES = 48  # a sentence's product-quantized code: 48 sub-vectors (8 dimensions of 384 each), 8 bits each
PQ_TRAINING = 256 * 40  # training sentences the 256 centroids of each sub-vector want at least
RESCORE = 4  # nearest codes taken per sentence asked for, then scored again on the rows
CODED_ROWS = True  # a generation's rows as 8-bit codes (False: float16); RealTimeQA 2022: benchmarks/vector_storage.py
SCALE_SAMPLE = 20_000  # sentences whose largest value in each dimension sets that dimension's 8-bit step
SCALE_MARGIN = 1.25  # room above the sample's largest values; a value past it is clipped to the largest code
FORMATS = {"float16": {"format": 1, "dtype": "float16"}, "int8": {"format": 2, "dtype": "int8"}}
VECTORS_FILE, OFFSETS_FILE, IDS_FILE, ANN_FILE, FORMAT_FILE, SCALES_FILE = (
    "vectors.npy", "offsets.npy", "passage_ids.npy", "ann.faiss", "newsbot.json", "scales.npy"
)


class SentenceIndex:
    """Every sentence vector of one generation, grouped by passage; `of(pid)` and `search(query)`."""

    def __init__(
        self,
        passage_ids: np.ndarray,
        offsets: np.ndarray,
        vectors: np.ndarray,
        ann: faiss.Index | None,
        ann_path: Path | None = None,
        scales: np.ndarray | None = None,
        nearest: bool = False,
    ) -> None:
        """`ann`: a nearest-neighbour index at hand; `ann_path`: one written before, read on the first search;
        `nearest`: else build one on the first search when the rows are too many to scan (a delta scans its few)."""
        self.passage_ids = passage_ids
        self.offsets = offsets
        self.vectors = vectors  # float16 rows, or 8-bit codes that `scales` (one step per dimension) turn into values
        self.scales = scales
        self._ann = ann
        self._ann_path = ann_path  # the default ranking never searches sentences: nothing is read or built for it
        self._nearest = nearest
        self._ann_lock = threading.Lock()
        self._exact: np.ndarray | None = None

    @property
    def ann(self) -> faiss.Index | None:
        """The nearest-neighbour index (None when a flat scan is used), read or built on first use."""
        if self._ann is None and (self._ann_path is not None or (self._nearest and len(self) > EXACT_LIMIT)):
            with self._ann_lock:
                if self._ann is None:
                    self._ann = self._read_ann() if self._ann_path is not None else self._build_ann()
        return self._ann

    def _read_ann(self) -> faiss.Index:
        try:
            ann = faiss.read_index(str(self._ann_path))
        except RuntimeError as exc:  # damaged or removed: answer without the sentence retriever
            log.warning("cannot read %s (%s); the sentence retriever is off", self._ann_path, exc)
            return faiss.IndexFlatIP(self.vectors.shape[1])  # empty: finds nothing
        faiss.extract_index_ivf(ann).nprobe = PROBES
        return ann

    def _build_ann(self) -> faiss.Index | None:
        log.info("building the nearest-sentence index over %d sentences (once a process)", len(self))
        return build_ann(self.vectors, self.scales)

    @classmethod
    def build(
        cls,
        rows: Iterable[tuple[int, np.ndarray]],
        dimension: int,
        scales: np.ndarray | None = None,
        codes: bool | None = None,
        nearest: bool = True,
    ) -> SentenceIndex:
        """Index `(passage id, sentence vectors)` rows given in ascending passage id order, in memory (a delta's
        few; a generation's are streamed to disk by `sentence_writer`).

        `codes` (default `CODED_ROWS`): 8-bit rows, on `scales` when given (the previous generation's: a row read
        back from it is coded again as it was), else on steps set by the first `SCALE_SAMPLE` sentences; float16
        rows otherwise. `nearest`: a nearest-sentence index is built on the first search when there are too many
        rows to scan (a delta scans its rows instead).
        """
        coder = RowCoder(dimension, codes, scales)
        blocks = list(coder.blocks(rows))
        passage_ids, offsets = coder.table()
        vectors = np.concatenate(blocks) if blocks else np.zeros((0, dimension), dtype=coder.dtype)
        return cls(passage_ids, offsets, vectors, None, scales=coder.scales, nearest=nearest)

    def __len__(self) -> int:
        return len(self.vectors)

    def of(self, pid: int) -> np.ndarray:
        """The sentence vectors of passage `pid` (float32, one row per sentence; empty if unknown)."""
        position = int(np.searchsorted(self.passage_ids, pid))
        if position >= len(self.passage_ids) or self.passage_ids[position] != pid:
            return np.zeros((0, self.vectors.shape[1]), dtype=np.float32)
        return self._values(self.vectors[self.offsets[position] : self.offsets[position + 1]])

    def _values(self, rows: np.ndarray) -> np.ndarray:
        """Stored rows as float32 values."""
        return decoded(rows, self.scales)

    def _query(self, query: np.ndarray) -> np.ndarray:
        """`query` ready for a product with stored rows: each dimension's step folded in (codes · (steps ⊙ q))."""
        return query * self.scales if self.scales is not None else query

    def cosines(self, pids: list[int], query: np.ndarray) -> list[np.ndarray]:
        """Each passage's sentence cosines to `query` (empty for an unknown id), in one gather and one product."""
        wanted = np.asarray(pids, dtype=np.int64)
        if not len(self.passage_ids) or not len(wanted):
            return [np.zeros(0, dtype=np.float32) for _ in pids]
        positions = np.minimum(np.searchsorted(self.passage_ids, wanted), len(self.passage_ids) - 1)
        known = self.passage_ids[positions] == wanted
        starts = np.where(known, self.offsets[positions], 0)
        lengths = np.where(known, self.offsets[positions + 1] - self.offsets[positions], 0)
        firsts = np.cumsum(lengths) - lengths
        rows = np.repeat(starts - firsts, lengths) + np.arange(lengths.sum())
        scores = np.asarray(self.vectors[rows], dtype=np.float32) @ self._query(query)
        return np.split(scores, np.cumsum(lengths)[:-1])

    def best_cosines(self, pids: list[int], query: np.ndarray) -> np.ndarray:
        """Each passage's closest sentence to `query` (cosine); NaN for an unknown id or one without sentences."""
        return np.asarray([c.max() if len(c) else np.nan for c in self.cosines(pids, query)], dtype=np.float32)

    def search(self, query: np.ndarray, n: int) -> list[tuple[int, int, float]]:
        """The `n` sentences closest to `query`, as `(passage id, sentence ordinal, cosine)`, best first."""
        if not len(self.vectors) or n <= 0:
            return []
        if self.ann is None:
            if self._exact is None:
                self._exact = self._values(self.vectors)
            scores = self._exact @ query
            n = min(n, len(scores))
            rows = np.argpartition(-scores, n - 1)[:n]
            rows = rows[np.argsort(-scores[rows])]
            found = zip(rows.tolist(), scores[rows].tolist())
        else:  # the codes find the nearest sentences; their own rows score them exactly
            _, rows = self.ann.search(query.reshape(1, -1).astype(np.float32), n * RESCORE)
            near = np.sort(rows[0][rows[0] >= 0])
            scores = np.asarray(self.vectors[near], dtype=np.float32) @ self._query(query)
            best = np.argsort(-scores, kind="stable")[:n]
            found = zip(near[best].tolist(), scores[best].tolist())
        out = []
        for row, score in found:
            position = int(np.searchsorted(self.offsets, row, side="right")) - 1
            out.append((int(self.passage_ids[position]), int(row - self.offsets[position]), float(score)))
        return out

    def save(self, directory: Path, generation: int) -> None:
        """Write durably under `directory` as `generation`'s sentences (temp folder, then renamed into place)."""

        def fill(tmp: Path) -> None:
            np.save(tmp / VECTORS_FILE, self.vectors)
            np.save(tmp / OFFSETS_FILE, self.offsets)
            np.save(tmp / IDS_FILE, self.passage_ids)
            if self.scales is not None:
                np.save(tmp / SCALES_FILE, self.scales)
            (tmp / FORMAT_FILE).write_text(self.format_text(generation))

        write_folder(directory, fill)

    def format_text(self, generation: int) -> str:
        """The folder's format file for `generation`."""
        return folder_format(self.scales is not None, generation)

    @staticmethod
    def steps(directory: Path) -> np.ndarray | None:
        """The 8-bit steps of the sentence folder `directory` (None: float16 rows, or unreadable), without its rows."""
        try:
            written = json.loads((Path(directory) / FORMAT_FILE).read_text())
            return np.load(Path(directory) / SCALES_FILE) if written.get("dtype") == "int8" else None
        except (OSError, ValueError):
            return None

    @classmethod
    def load(cls, directory: Path, generation: int) -> SentenceIndex:
        """Read `generation`'s sentences (vectors memory-mapped); `ValueError` when missing or another generation's."""
        directory = Path(directory)
        try:
            written = json.loads((directory / FORMAT_FILE).read_text())
            if written not in [{**known, "generation": generation} for known in FORMATS.values()]:
                raise ValueError(f"{directory} was written with other settings or for another index version")
            scales = np.load(directory / SCALES_FILE) if written["dtype"] == "int8" else None
            vectors = np.load(directory / VECTORS_FILE, mmap_mode="r")
            offsets = np.load(directory / OFFSETS_FILE)
            ids = np.load(directory / IDS_FILE)
            ann_path = directory / ANN_FILE if (directory / ANN_FILE).exists() else None
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ValueError(f"cannot read the sentence index {directory}: {exc}") from exc
        return cls(ids, offsets, vectors, None, ann_path, scales, nearest=True)


class RowCoder:
    """Turns `(passage id, sentence vectors)` rows, in ascending passage id order, into the blocks a generation
    stores: 8-bit codes on each dimension's step (given, else set by the first `SCALE_SAMPLE` sentences), or
    float16 rows; and notes each passage's sentence count for the offsets table."""

    def __init__(self, dimension: int, codes: bool | None = None, scales: np.ndarray | None = None) -> None:
        self.dimension = dimension
        self.codes = CODED_ROWS if codes is None else codes
        self.scales = scales if self.codes else None
        self.dtype = np.int8 if self.codes else ROW_DTYPE
        self._ids = array("q")
        self._lengths = array("q")

    def blocks(self, rows: Iterable[tuple[int, np.ndarray]]) -> Iterator[np.ndarray]:
        """The stored rows, a passage's block at a time (rows read before the steps are set wait for them)."""
        waiting: list[np.ndarray] = []
        waited = 0
        for pid, matrix in rows:
            self._ids.append(pid)
            self._lengths.append(len(matrix))
            if not self.codes:
                yield np.asarray(matrix, dtype=ROW_DTYPE).reshape(-1, self.dimension)
                continue
            waiting.append(np.asarray(matrix, dtype=np.float32).reshape(-1, self.dimension))
            waited += len(matrix)
            if self.scales is None and waited < SCALE_SAMPLE:
                continue
            if self.scales is None:
                self.scales = _scales(np.concatenate(waiting))
            yield from (encoded(block, self.scales) for block in waiting)
            waiting.clear()
        if self.codes:
            if self.scales is None:
                self.scales = _scales(np.concatenate(waiting) if waiting else np.zeros((0, self.dimension), np.float32))
            yield from (encoded(block, self.scales) for block in waiting)

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """The passage ids seen and their first rows (`offsets`, one more than the ids); `ValueError` when out of order."""
        passage_ids = np.frombuffer(self._ids, dtype=np.int64).copy()
        if np.any(np.diff(passage_ids) <= 0):
            raise ValueError("passages must come in ascending id order")
        offsets = np.zeros(len(passage_ids) + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(self._lengths, dtype=np.int64), out=offsets[1:])
        return passage_ids, offsets


def folder_format(coded: bool, generation: int) -> str:
    """The format file of `generation`'s sentence folder: 8-bit codes (`coded`) or float16 rows."""
    return json.dumps({**FORMATS["int8" if coded else "float16"], "generation": generation})


def _scales(sample: np.ndarray) -> np.ndarray:
    """Each dimension's 8-bit step: the sample's largest absolute value, with room, over 127 codes."""
    largest = np.abs(sample).max(axis=0) if len(sample) else np.ones(sample.shape[1], dtype=np.float32)
    return (np.maximum(largest, 1e-6) * SCALE_MARGIN / 127).astype(np.float32)


def decoded(rows: np.ndarray, scales: np.ndarray | None) -> np.ndarray:
    """Stored rows (float16, or 8-bit codes on `scales`) as float32 values."""
    values = np.asarray(rows, dtype=np.float32)
    return values * scales if scales is not None else values


def encoded(rows: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Float rows as 8-bit codes on `scales` (each dimension's step); a value past the last step is clipped."""
    return np.clip(np.rint(np.asarray(rows, dtype=np.float32) / scales), -127, 127).astype(np.int8)


def build_ann(vectors: np.ndarray, scales: np.ndarray | None) -> faiss.Index | None:
    """An IVF-PQ inner-product index over the rows (row number = id), or None when a scan is cheap."""
    count, dimension = vectors.shape
    if count <= EXACT_LIMIT:
        return None
    lists = int(np.sqrt(count))
    quantizer = faiss.IndexFlatIP(dimension)
    parts = next(m for m in (CODE_BYTES, 32, 24, 16, 12, 8, 4, 2, 1) if dimension % m == 0)
    ann = faiss.IndexIVFPQ(quantizer, dimension, lists, parts, 8, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(count, size=min(count, max(lists * TRAIN_PER_LIST, PQ_TRAINING)), replace=False)
    ann.train(decoded(vectors[np.sort(sample)], scales))
    chunk = 32_768  # decoded a chunk at a time: never a float32 copy of every row
    for i in range(0, count, chunk):
        ann.add(decoded(vectors[i : i + chunk], scales))
    ann.nprobe = PROBES
    return ann
