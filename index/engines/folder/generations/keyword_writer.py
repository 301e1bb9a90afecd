"""Write a generation's BM25 folder from passages streamed in id order, in memory that does not grow with the
corpus: bm25s builds its matrix from every passage's stems held at once, then sorts all postings (some 67 million
at a million passages, over 2 GB while it sorts). Here each passage's stem counts go to a scratch file as it is
read; the scores are then computed and written a range of stems at a time, term by term as bm25s lays them out.

The files are bm25s's own (its `save` writes the vocabulary and parameters, this module the three score arrays),
with the same numbers as `KeywordIndex.build` (tested): bm25s's Lucene BM25, computed in the same order of
operations, so a question scores exactly as before.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import bm25s
import numpy as np
from tqdm import tqdm

from index.engines.common import K1, B
from index.engines.folder.generations.durable import write_folder
from index.engines.folder.generations.keyword_index import FORMAT_FILE, IDS_FILE, KeywordIndex
from index.engines.folder.generations.sentence_writer import npy_header
from index.text.keywords import document_tokens

SCRATCH = "postings.tmp"
POSTINGS_AT_ONCE = 2_000_000  # postings scored and sorted at once (~100 MB with their temporaries)
FLUSH = 1_000_000  # postings gathered before they go to the scratch file
DATA, INDICES = "data.csc.index.npy", "indices.csc.index.npy"  # (bm25s's `save` writes the rest)
MAX_PARTS = 256  # scratch files open at once: past this many ranges, each range takes more postings


def write_keywords(
    directory: Path, generation: int, passages: Iterable[tuple[int, str, str]], total: int | None = None, progress: bool = False
) -> None:
    """Write `(passage id, title, text)` rows, in ascending id order, as `generation`'s BM25 folder (temp folder,
    fsync, rename); `ValueError` when the ids are out of order."""

    def fill(tmp: Path) -> None:
        ids, lengths, vocabulary = array("q"), array("q"), {}
        frequencies = np.zeros(0, dtype=np.int64)  # passages holding each stem
        gathered = array("i")  # (stem, passage number, count) triples not yet written
        with open(tmp / SCRATCH, "wb") as out:

            def flush() -> None:
                nonlocal frequencies
                triples = np.array(gathered, dtype=np.int32).reshape(-1, 3)  # a copy: the array is emptied below
                frequencies = _grown(frequencies, len(vocabulary))
                frequencies += np.bincount(triples[:, 0], minlength=len(vocabulary))
                out.write(triples.tobytes())
                del gathered[:]

            rows = tqdm(passages, total=total, desc="Keyword index", unit="passage", disable=not progress, leave=False)
            for number, (pid, title, body) in enumerate(rows):
                stems = document_tokens(title, body)
                ids.append(pid)
                lengths.append(len(stems))
                for stem, count in Counter(vocabulary.setdefault(stem, len(vocabulary)) for stem in stems).items():
                    gathered.extend((stem, number, count))
                if len(gathered) >= 3 * FLUSH:
                    flush()
            flush()
        id_array = np.frombuffer(ids, dtype=np.int64)
        if np.any(np.diff(id_array) <= 0):
            raise ValueError("passages must come in ascending id order")
        np.save(tmp / IDS_FILE, id_array)
        average = None
        if len(id_array):
            lengths_array = np.frombuffer(lengths, dtype=np.int64)
            average = _write_scores(tmp, tmp / SCRATCH, lengths_array, _grown(frequencies, len(vocabulary)), vocabulary)
        (tmp / SCRATCH).unlink(missing_ok=True)  # (already gone when there were passages to score)
        (tmp / FORMAT_FILE).write_text(KeywordIndex(None, id_array, average).format_text(generation))

    write_folder(Path(directory), fill)


def _grown(frequencies: np.ndarray, size: int) -> np.ndarray:
    """`frequencies` with a zero for each stem met since (the vocabulary grows as passages are read)."""
    return np.concatenate([frequencies, np.zeros(size - len(frequencies), dtype=np.int64)])


def _write_scores(tmp: Path, scratch: Path, lengths: np.ndarray, frequencies: np.ndarray, vocabulary: dict[str, int]) -> float:
    """Score the postings of `scratch` and write them term by term (passages in order within a term), as bm25s lays
    them out; its `save` writes the vocabulary and parameters. Returns the average passage length (in stems)."""
    documents, average = len(lengths), lengths.mean()
    # As bm25s computes them: each stem's idf in float32 (math.log), its score in float64, stored as float32.
    idf = np.asarray(
        [math.log(1 + (documents - df + 0.5) / (df + 0.5)) if df else 0.0 for df in frequencies.tolist()], dtype=np.float32
    )
    indptr = np.zeros(len(frequencies) + 1, dtype=np.int64)
    np.cumsum(frequencies, out=indptr[1:])
    retriever = bm25s.BM25(k1=K1, b=B, method="lucene")
    retriever.scores = {"data": np.zeros(0, np.float32), "indices": np.zeros(0, np.int32), "indptr": indptr, "num_docs": documents}
    retriever.vocab_dict = {**vocabulary, **({} if "" in vocabulary else {"": len(vocabulary)})}  # as bm25s's `index` does
    retriever.nonoccurrence_array = None  # (Lucene's BM25 has none; bm25s's `index` sets it so)
    retriever.save(str(tmp), show_progress=False)  # the two score arrays it wrote empty are written below

    # Stem ranges of about POSTINGS_AT_ONCE postings each (more past MAX_PARTS ranges); the scratch file is split
    # into one file per range.
    at_once = max(POSTINGS_AT_ONCE, int(indptr[-1]) // MAX_PARTS + 1)
    starts = np.searchsorted(indptr, np.arange(0, int(indptr[-1]), at_once), side="right") - 1  # stem holding each
    bounds = np.unique(np.concatenate([[0], starts, [len(frequencies)]])).tolist()
    parts = [tmp / f"{SCRATCH}.{i}" for i in range(len(bounds) - 1)]
    handles = [open(path, "wb") for path in parts]
    try:
        with open(scratch, "rb") as source:
            while chunk := source.read(FLUSH * 3 * 4):
                triples = np.frombuffer(chunk, dtype=np.int32).reshape(-1, 3)
                part_of = np.searchsorted(bounds, triples[:, 0], side="right") - 1
                for i in np.unique(part_of).tolist():
                    handles[i].write(triples[part_of == i].tobytes())
    finally:
        for handle in handles:
            handle.close()
    scratch.unlink()

    with open(tmp / DATA, "wb") as data, open(tmp / INDICES, "wb") as indices:
        data.write(npy_header(np.float32, (int(indptr[-1]),)))
        indices.write(npy_header(np.int32, (int(indptr[-1]),)))
        for path in parts:
            triples = np.fromfile(path, dtype=np.int32).reshape(-1, 3)
            path.unlink()
            triples = triples[np.argsort(triples[:, 0], kind="stable")]  # by stem, passages in order within one
            stems, passages, counts = triples[:, 0], triples[:, 1], triples[:, 2].astype(np.float32)
            tfc = counts / (K1 * ((1 - B) + B * lengths[passages] / average) + counts)
            data.write((idf[stems] * tfc).astype(np.float32).tobytes())
            indices.write(passages.tobytes())
    return float(average)
