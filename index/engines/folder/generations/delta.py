"""A segment of recent passages, written beside an unchanged base: passage vectors (scanned exactly), sentence
vectors, and the term counts BM25 needs, so an update costs what it adds.

A generation is a base (the HNSW graph, BM25 and sentence files of the last full build, hard-linked under the
generation's names) plus its recent segments (`recent`: each written once, merged as they pile up); passages removed
since the base was built are left where they are and skipped by readers (see `segments`). Passage ids only grow, so
every segment id is larger than every base id and than every id of the segments before it. Past `MAX_SHARE` of the
base (or too many removals), the next update is a full build again. From `GRAPH_FROM` passages a segment's vectors
also get an HNSW graph of their own, grown from the largest merged segment's rather than rebuilt (`DeltaGraph`), so a
question's cost stops growing with the recent passages. Before segments, this was the one delta of a generation,
rewritten whole by each update (formats 1-3, still read).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from index.engines.folder.generations.delta_graph import GRAPH_FILE, DeltaGraph
from index.engines.folder.generations.delta_postings import Postings
from index.engines.folder.generations.durable import write_folder
from index.engines.folder.generations.sentence_index import SentenceIndex, encoded

# 3: sentence rows as 8-bit codes on the base's steps and passage vectors in float16, as a full build would store
# them (38% fewer bytes an update rewrites at 60k passages, docs/benchmarks.md); 2: with the removed base passages (format 1 is read, its removals taken
# from SQLite; 1 and 2 hold float16 sentence rows and float32 vectors, read as they are).
FORMAT = {"format": 3}
READS = (1, 2, 3)
STEPS_FILE = "sentence_steps.npy"
FORMAT_FILE = "newsbot.json"
MIN_SIZE = 2000  # passages a delta may always hold
MAX_SHARE = 0.1  # beyond this share of the base's passages (or removed base passages), rebuild in full


class Delta:
    """Recent passages: ids (ascending), passage vectors, sentence vectors, and BM25 term counts; and the ids of
    the base passages removed since the base was built (`removed`, ascending; None in a format-1 delta), so
    neither an update nor a reader has to read every passage id to learn them (empty in a segment: its generation's
    manifest lists the removed passages, `recent`)."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, sentences: SentenceIndex, terms: Postings,
                 lengths: np.ndarray, removed: np.ndarray | None, graph: DeltaGraph | None = None) -> None:
        self.ids = ids
        self.vectors = vectors
        self.sentences = sentences
        self.terms = terms  # stem -> (positions in `ids`, counts), by `terms.get`
        self.lengths = lengths  # stems per passage (title counted TITLE_REPEAT times, as BM25 sees it)
        self.removed = removed
        self.graph = graph  # the vectors' HNSW graph from `GRAPH_FROM` passages (may hold passages gone since)

    @classmethod
    def empty(cls, dimension: int) -> Delta:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, np.zeros((0, dimension), dtype=np.float32), SentenceIndex.build([], dimension, codes=False),
                   Postings.of([]), none, none)

    @classmethod
    def build(cls, rows: Iterable[tuple[int, np.ndarray, np.ndarray, list[str]]], dimension: int, removed: np.ndarray,
              graph: bool = True, steps: np.ndarray | None = None) -> Delta:
        """From `(passage id, passage vector, sentence vectors, BM25 tokens)` rows in ascending id order, and the
        base passages removed since the base was built (with the vectors' graph when large enough, unless not `graph`).

        Sentence rows are 8-bit codes on `steps` (the base's) when given, else float16; passage vectors are rounded to
        float16, as they are saved (so the delta read back is the delta built).
        """
        rows = list(rows)
        ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        if np.any(np.diff(ids) <= 0):
            raise ValueError("delta passages must come in ascending id order")
        vectors = np.asarray([r[1] for r in rows], dtype=np.float16).astype(np.float32).reshape(-1, dimension)
        # Scanned: no nearest-sentence index (it is not saved, and took 5 s an update at 30k passages).
        sentences = SentenceIndex.build(((r[0], r[2]) for r in rows), dimension, scales=steps, codes=steps is not None,
                                        nearest=False)
        terms = Postings.of(r[3] for r in rows)
        lengths = np.asarray([len(r[3]) for r in rows], dtype=np.int64)
        return cls(ids, vectors, sentences, terms, lengths, np.unique(np.asarray(removed, dtype=np.int64)),
                   DeltaGraph.built(ids, vectors) if graph else None)

    def extended(self, gone: np.ndarray, rows: list[tuple[int, np.ndarray, np.ndarray, list[str]]],
                 removed: np.ndarray, steps: np.ndarray | None = None) -> Delta:
        """This delta but for the passages `gone`, plus `rows` (as `build` takes them, ids above all of this delta's).

        `steps`: the base's 8-bit steps, on which the float16 sentence rows of an older delta are coded once.
        """
        if self.sentences.scales is not None:
            steps = self.sentences.scales
        fresh = Delta.build(rows, self.vectors.shape[1], removed, graph=False, steps=steps)
        return Delta.joined([self, fresh], gone, fresh.removed, steps)

    @classmethod
    def joined(cls, parts: list[Delta], gone: np.ndarray, removed: np.ndarray | None,
               steps: np.ndarray | None = None, graph: bool = True) -> Delta:
        """One delta of `parts` (each's ids above the previous part's) but for the passages `gone`, listing `removed`:
        what is kept is carried over as arrays, never as rows again (at 30,000 passages, 2.3 s an update).

        Sentence rows are 8-bit codes on the parts' steps (or `steps`): the float16 rows of an older delta are coded
        once. The graph is the largest part's grown by the other parts' passages (or built anew, `DeltaGraph.grown`);
        none when not `graph` (a delta read for its rows only, as a full build reads the recent passages).
        """
        dimension = parts[0].vectors.shape[1]
        steps = next((p.sentences.scales for p in parts if p.sentences.scales is not None), steps)
        gone = np.asarray(gone, dtype=np.int64)
        ids, vectors, lengths, rows, counts, postings = [], [], [], [], [], []
        at = 0
        for part in parts:
            keep = np.flatnonzero(~np.isin(part.ids, gone)) if len(gone) else np.arange(len(part.ids))
            to = np.full(len(part.ids), -1, dtype=np.int64)  # position in the part -> in the joined delta (-1: gone)
            to[keep] = at + np.arange(len(keep))
            at += len(keep)
            postings.append((part.terms, to))
            held = np.asarray(part.sentences.vectors)
            if steps is not None and part.sentences.scales is None:  # (float16 rows of a delta from before format 3)
                held = encoded(held, steps)
            offsets = part.sentences.offsets
            sentences = offsets[keep + 1] - offsets[keep]
            if len(keep) < len(part.ids):  # (else every row is kept as it is: one copy fewer of the whole part)
                held = held[np.repeat(offsets[keep] - (np.cumsum(sentences) - sentences), sentences) + np.arange(sentences.sum())]
            ids.append(part.ids[keep])
            vectors.append(part.vectors[keep])
            lengths.append(part.lengths[keep])
            rows.append(held)
            counts.append(sentences)
        ids_all = np.concatenate(ids)
        if np.any(np.diff(ids_all) <= 0):
            raise ValueError("delta passages must come in ascending id order")
        vectors_all = np.concatenate(vectors).reshape(-1, dimension)
        sentence_offsets = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
        sentences = SentenceIndex(ids_all, sentence_offsets, np.concatenate(rows).reshape(-1, dimension), None, scales=steps)
        grown = None
        if graph:
            largest = max(range(len(parts)), key=lambda i: parts[i].graph.index.ntotal if parts[i].graph is not None else -1)
            fresh = np.ones(len(ids_all), dtype=bool)
            if parts[largest].graph is not None:
                fresh[np.isin(ids_all, parts[largest].ids)] = False
            grown = DeltaGraph.grown(parts[largest].graph, ids_all, vectors_all, ids_all[fresh], vectors_all[fresh])
        return cls(ids_all, vectors_all, sentences, Postings.joined(postings), np.concatenate(lengths),
                   None if removed is None else np.asarray(removed, dtype=np.int64), grown)

    def __len__(self) -> int:
        return len(self.ids)

    def save(self, directory: Path, generation: int, base: int) -> None:
        """Write durably as `generation`'s delta over base generation `base` (one folder: format 3)."""
        self._save(directory, {"generation": generation, "base": base})

    def save_segment(self, directory: Path) -> None:
        """Write durably as a segment of later generations' deltas (`recent`): never changed once written."""
        self._save(directory, {"segment": directory.name}, segment=True)

    def _save(self, directory: Path, meta: dict, segment: bool = False) -> None:
        removed = self.removed if self.removed is not None and not segment else np.zeros(0, np.int64)

        def fill(tmp: Path) -> None:
            np.save(tmp / "ids.npy", self.ids)
            np.save(tmp / "vectors.npy", self.vectors.astype(np.float16))  # (rounded so when built: no loss here)
            np.save(tmp / "lengths.npy", self.lengths)
            np.save(tmp / "removed.npy", removed)  # (a segment's: none; its generation's manifest lists them)
            np.save(tmp / "sentence_vectors.npy", np.asarray(self.sentences.vectors))
            if self.sentences.scales is not None:
                np.save(tmp / STEPS_FILE, self.sentences.scales)
            np.save(tmp / "sentence_offsets.npy", self.sentences.offsets)
            np.save(tmp / "term_offsets.npy", self.terms.offsets)
            np.save(tmp / "term_positions.npy", self.terms.positions)
            np.save(tmp / "term_counts.npy", self.terms.counts)
            (tmp / "stems.json").write_text(json.dumps(self.terms.stems))
            if self.graph is not None:
                self.graph.save(tmp / GRAPH_FILE)
            (tmp / FORMAT_FILE).write_text(json.dumps({**FORMAT, **meta}))

        write_folder(directory, fill)

    @classmethod
    def load(cls, directory: Path, generation: int) -> tuple[Delta, int]:
        """`generation`'s delta and its base generation; `ValueError` when missing or another generation's."""
        delta, meta = cls._load(directory, lambda meta: meta.get("generation") == generation)
        return delta, int(meta["base"])

    @classmethod
    def load_segment(cls, directory: Path) -> Delta:
        """A segment saved by `save_segment` (its `removed` empty); `ValueError` when missing or not that segment."""
        return cls._load(directory, lambda meta: meta.get("segment") == directory.name)[0]

    @classmethod
    def _load(cls, directory: Path, ours) -> tuple[Delta, dict]:
        try:
            meta = json.loads((directory / FORMAT_FILE).read_text())
            if meta.get("format") not in READS or not ours(meta):
                raise ValueError(f"{directory} was written for another index version")
            ids = np.load(directory / "ids.npy")
            vectors = np.load(directory / "vectors.npy").astype(np.float32, copy=False)  # (float16 from format 3)
            sentence_vectors = np.load(directory / "sentence_vectors.npy")
            offsets = np.load(directory / "sentence_offsets.npy")
            term_offsets = np.load(directory / "term_offsets.npy")
            positions = np.load(directory / "term_positions.npy")
            counts = np.load(directory / "term_counts.npy")
            stems = json.loads((directory / "stems.json").read_text())
            lengths = np.load(directory / "lengths.npy")
            removed = np.load(directory / "removed.npy") if meta["format"] >= 2 else None
            steps = np.load(directory / STEPS_FILE) if (directory / STEPS_FILE).exists() else None
            graph = DeltaGraph.load(directory / GRAPH_FILE, ids) if (directory / GRAPH_FILE).exists() else None
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"cannot read the delta {directory}: {exc}") from exc
        terms = Postings(stems, term_offsets, positions, counts)
        if (steps is not None) != (sentence_vectors.dtype == np.int8):
            raise ValueError(f"cannot read the delta {directory}: its sentence rows and steps do not match")
        sentences = SentenceIndex(ids, offsets, sentence_vectors, None, scales=steps)
        return cls(ids, vectors, sentences, terms, lengths, removed, graph), meta
