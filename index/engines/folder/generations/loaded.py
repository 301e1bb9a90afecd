"""The in-memory files of index generations, loaded once each and swapped in between questions."""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass

import faiss
import numpy as np

from index.engines.folder.generations import vector_index
from index.engines.folder.generations.keyword_index import KeywordIndex
from index.engines.folder.generations.segments import Keywords, Parts, PassageVectors, Sentences
from index.engines.folder.generations.sentence_index import SentenceIndex
from index.engines.folder.store import KEEP_GENERATIONS, Store
from index.errors import IndexCorrupt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generation:
    """The passage vectors, BM25 and sentence vectors of one index generation: base and delta together."""

    number: int
    vectors: PassageVectors
    keywords: Keywords
    sentences: Sentences
    base: int  # the generation whose full build the base files come from


@dataclass(frozen=True)
class _Base:
    vectors: faiss.Index
    keywords: KeywordIndex
    sentences: SentenceIndex


class Generations:
    """Keeps the newest two loaded generations (a slow reader may still be on the older); thread-safe.

    Generations sharing a base share its loaded files, and its recent segments: after an update that only wrote a
    segment, the swap loads that segment alone.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._swap = threading.Lock()
        self._loaded: dict[int, Generation] = {}
        self._bases: dict[int, _Base] = {}

    def get(self, generation: int, conn: sqlite3.Connection) -> Generation:
        """The files of `generation`, loading them (once) when the index has moved on.

        `conn` must be reading that generation: its passage count checks the files (the delta lists the base
        passages removed since the base was built), and a missing keyword index (an index written before
        keyword files existed) is rebuilt in memory from its passages.
        """
        current = self._loaded.get(generation)
        if current is not None:
            return current
        with self._swap:
            if generation not in self._loaded:
                recent = self.store.read_recent(generation)  # (segments it has read before are not read again)
                base_number = recent.base if recent is not None else generation
                base = self._bases.get(base_number) or self._base(generation, conn, recent is None)
                segments = list(recent.segments) if recent is not None else []
                recent_ids = recent.ids if recent is not None else np.zeros(0, dtype=np.int64)
                if recent is None:
                    dead = np.zeros(0, dtype=np.int64)
                elif recent.removed is not None:
                    dead = recent.removed
                else:
                    dead = self._dead(base.keywords.ids, recent_ids, conn, generation)
                parts = Parts(segments, dead)
                keywords = Keywords(base.keywords, parts)  # (its ids: the base's and the segments', ascending)
                count = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
                if count != len(keywords) or (keywords.positions(dead) < 0).any():
                    raise IndexCorrupt(f"generation {generation}: the passages and the index files do not match")
                self._loaded = {n: g for n, g in self._loaded.items() if n > generation - KEEP_GENERATIONS}
                self._loaded[generation] = Generation(
                    generation,
                    PassageVectors(base.vectors, parts),
                    keywords,
                    Sentences(base.sentences, parts),
                    base_number,
                )
                self._bases = {
                    g.base: _Base(g.vectors.base, g.keywords.base, g.sentences.base) for g in self._loaded.values()
                }
            return self._loaded[generation]

    @staticmethod
    def _dead(base_ids: np.ndarray, recent_ids: np.ndarray, conn: sqlite3.Connection, generation: int) -> np.ndarray:
        """The base passages SQLite no longer holds, for a delta that does not list them (format 1): every id read."""
        alive = np.fromiter((r[0] for r in conn.execute("SELECT id FROM passages ORDER BY id")), dtype=np.int64)
        if len(np.setdiff1d(alive, np.concatenate([base_ids, recent_ids]))) or len(np.setdiff1d(recent_ids, alive)):
            raise IndexCorrupt(f"generation {generation}: the passages and the index files do not match")
        return np.setdiff1d(base_ids, alive)

    def _base(self, generation: int, conn: sqlite3.Connection, whole: bool) -> _Base:
        """Load the base files under `generation`'s names; `whole` when there is no delta (a full build)."""
        vectors = self.store.read_vectors(generation)
        vector_ids = np.sort(vector_index.contents_ids(vectors))
        try:
            keywords = self.store.read_keywords(generation)
            if not np.array_equal(keywords.ids, vector_ids):
                raise ValueError(f"the keyword index of generation {generation} holds other passages")
        except ValueError as exc:
            if not whole:
                raise IndexCorrupt(f"generation {generation}: {exc}") from exc
            log.warning("%s; rebuilding it in memory (`newsbot index` writes it to disk)", exc)
            keywords = KeywordIndex.build(Store.passage_texts(conn))
        if not np.array_equal(keywords.ids, vector_ids):
            raise IndexCorrupt(f"generation {generation}: the passages and the vectors do not match")
        return _Base(vectors, keywords, self._sentences(generation, vector_ids, vectors.d))

    def _sentences(self, generation: int, vector_ids: np.ndarray, dimension: int) -> SentenceIndex:
        """`generation`'s sentence vectors; without them (an index from before they existed) sentences score by words only."""
        try:
            sentences = self.store.read_sentences(generation)
        except ValueError as exc:
            log.warning("%s; answering without sentence vectors until `newsbot index` runs", exc)
            return SentenceIndex.build([], dimension)
        if not np.array_equal(sentences.passage_ids, vector_ids):
            raise IndexCorrupt(f"generation {generation}: the passages and the sentence vectors do not match")
        return sentences
