"""The in-memory files of index generations, loaded once each and swapped in between questions."""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass

import faiss
import numpy as np

from . import vector_index
from .keyword_index import KeywordIndex
from .sentence_index import SentenceIndex
from .store import KEEP_GENERATIONS, IndexCorrupt, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generation:
    """The passage vectors, BM25 index and sentence vectors of one index generation."""

    number: int
    vectors: faiss.Index
    keywords: KeywordIndex
    sentences: SentenceIndex


class Generations:
    """Keeps the newest two loaded generations (a slow reader may still be on the older); thread-safe."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._swap = threading.Lock()
        self._loaded: dict[int, Generation] = {}

    def get(self, generation: int, conn: sqlite3.Connection) -> Generation:
        """The files of `generation`, loading them (once) when the index has moved on.

        `conn` must be reading that generation: a missing keyword index (an index written before
        keyword files existed) is rebuilt in memory from the passages it sees.
        """
        current = self._loaded.get(generation)
        if current is not None:
            return current
        with self._swap:
            if generation not in self._loaded:
                vectors = self.store.read_vectors(generation)
                vector_ids = np.sort(vector_index.contents_ids(vectors))
                try:
                    keywords = self.store.read_keywords(generation)
                    if not np.array_equal(keywords.ids, vector_ids):
                        raise ValueError(f"the keyword index of generation {generation} holds other passages")
                except ValueError as exc:
                    log.warning("%s; rebuilding it in memory (`newsbot index` writes it to disk)", exc)
                    keywords = KeywordIndex.build(Store.passage_texts(conn))
                if not np.array_equal(keywords.ids, vector_ids):
                    raise IndexCorrupt(f"generation {generation}: the passages and the vectors do not match")
                sentences = self._sentences(generation, vector_ids, vectors.d)
                self._loaded = {n: g for n, g in self._loaded.items() if n > generation - KEEP_GENERATIONS}
                self._loaded[generation] = Generation(generation, vectors, keywords, sentences)
            return self._loaded[generation]

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
