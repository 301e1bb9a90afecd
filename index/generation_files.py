"""Build and write the files of a new index generation — passage vectors (HNSW), sentence vectors
and BM25 — from the previous generation's files and an update's new passages.

All three are written under the new generation's names before the commit that switches to them,
so a crash at any point leaves the previous generation whole (see `store`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import faiss
import numpy as np

from . import vector_index
from .keyword_index import KeywordIndex
from .sentence_index import SentenceIndex
from .store import Store

LARGE = 5000  # passages from which building shows a progress bar

# One new passage of an update: (passage id, planned article, ordinal, Passage, embedding hash).
NewPassage = tuple


class GenerationFiles:
    """Writes one generation's files into a `Store`."""

    def __init__(self, store: Store, progress: bool) -> None:
        self.store = store
        self.progress = progress

    def write(
        self,
        conn: sqlite3.Connection,
        generation: int,
        full: bool,
        stale_ids: list[int],
        rows: list[NewPassage],
        vectors: dict[bytes, tuple[np.ndarray, np.ndarray]],
        dimension: int,
    ) -> faiss.Index:
        """Write generation `generation + 1`: the previous one's passages minus `stale_ids` (none if `full`) plus `rows`.

        `vectors` maps each new passage's hash to its passage and sentence vectors. Returns the
        passage vector index, which the commit checks against the passages it writes.
        """
        if full:
            if vectors:
                dimension = len(next(iter(vectors.values()))[0])
            kept, kept_ids = np.zeros((0, dimension), dtype=np.float32), np.zeros(0, dtype=np.int64)
        else:
            kept, kept_ids = vector_index.contents(self.store.read_vectors(generation))
            keep = ~np.isin(kept_ids, np.asarray(stale_ids, dtype=np.int64))
            kept, kept_ids = kept[keep], kept_ids[keep]
            dimension = kept.shape[1]
        fresh_matrix = np.asarray([vectors[r[4]][0] for r in rows], dtype=np.float32).reshape(-1, dimension)
        matrix = np.concatenate([kept, fresh_matrix])
        ids = np.concatenate([kept_ids, np.asarray([r[0] for r in rows], dtype=np.int64)])
        large = self.progress and len(ids) >= LARGE
        index = vector_index.build(dimension, matrix, ids, progress=large)

        new_generation = generation + 1
        sentences = self._sentence_rows(generation, full, ids, rows, vectors)
        self.store.write_sentences(SentenceIndex.build(sentences, dimension, progress=large), new_generation)
        keywords = self.write_keywords(new_generation, _keyword_rows(conn, full, set(stale_ids), rows), len(ids))
        if not np.array_equal(keywords.ids, np.sort(ids)):
            raise RuntimeError("internal error: the keyword and vector indexes hold different passages")
        self.store.write_vectors(index, new_generation)
        return index

    def write_keywords(self, generation: int, passages: Iterable[tuple[int, str, str]], count: int) -> KeywordIndex:
        """Build and write `generation`'s BM25 keyword index over `(id, title, text)` rows in id order."""
        keywords = KeywordIndex.build(passages, total=count, progress=self.progress and count >= LARGE)
        self.store.write_keywords(keywords, generation)
        return keywords

    def has_sentences(self, generation: int) -> bool:
        """True when `generation`'s sentence vectors can be read (an older index has none)."""
        try:
            self.store.read_sentences(generation)
        except ValueError:
            return False
        return True

    def _sentence_rows(
        self,
        generation: int,
        full: bool,
        ids: np.ndarray,
        rows: list[NewPassage],
        vectors: dict[bytes, tuple[np.ndarray, np.ndarray]],
    ) -> Iterable[tuple[int, np.ndarray]]:
        """`(passage id, sentence vectors)` of every passage of the coming generation, in id order.

        Kept passages take theirs from the previous generation's files, new ones from this update.
        """
        fresh = {pid: vectors[digest][1] for pid, _, _, _, digest in rows}
        previous = None if full else self.store.read_sentences(generation)
        for pid in np.sort(ids).tolist():
            matrix = fresh.get(pid)
            yield pid, (matrix if matrix is not None else previous.of(pid))


def _keyword_rows(conn: sqlite3.Connection, full: bool, stale: set[int], rows: list) -> Iterable[tuple[int, str, str]]:
    """`(id, title, text)` of every passage of the coming generation, by id: the kept ones, then the new.

    Read before the commit's write transaction, so building BM25 never holds SQLite's write lock.
    """
    if not full:
        for pid, title, body in Store.passage_texts(conn):
            if pid not in stale:
                yield pid, title, body
    for pid, plan, _, passage, _ in rows:
        yield pid, plan.article.title, plan.article.text[passage.start : passage.end]
