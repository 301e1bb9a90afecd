"""Build and write the files of a new index generation from the previous generation's and an update's
new passages: either a small delta beside the unchanged base (what an update of a few articles costs),
or, when the delta or the passages removed from the base grow past a share of it, a full build of
the passage vectors (HNSW), sentence vectors and BM25.

Everything is written under the new generation's names before the commit that switches to them, so a
crash at any point leaves the previous generation whole (see `engines.folder.store`).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from index.engines.folder.generations import vector_index
from index.engines.folder.generations.delta import MAX_SHARE, MIN_SIZE, Delta
from index.engines.folder.generations.kept import SpilledVectors, kept_sentences
from index.engines.folder.generations.keyword_index import KeywordIndex, document_tokens
from index.engines.folder.generations.recent import Recent
from index.engines.folder.generations.sentence_index import VECTORS_FILE
from index.engines.folder.store import Store
from index.engines.writer import Vectors

LARGE = 5000  # passages from which building shows a progress bar

# One new passage of an update: (passage id, planned article, ordinal, Passage, embedding hash).
NewPassage = tuple


@dataclass(frozen=True)
class Written:
    """What a new generation holds: how many passages (checked against SQLite at the commit) and their dimension."""

    passages: int
    dimension: int
    delta: bool  # a delta beside the previous base, rather than a full build


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
        vectors: Vectors,
        dimension: int,
    ) -> Written:
        """Write generation `generation + 1`: the previous one's passages minus `stale_ids` (none if `full`) plus `rows`.

        `vectors` maps each new passage's hash to its passage and sentence vectors.
        """
        stale = np.asarray(sorted(stale_ids), dtype=np.int64)
        delta, removed = None, None
        if not full:
            recent = self.store.read_recent(generation)
            try:
                base_keywords = self.store.read_keywords(generation)
            except ValueError:  # unreadable or from an older version: build in full
                base_keywords = None
            if base_keywords is not None and base_keywords.average_length is not None:
                base = recent.base if recent is not None else generation
                recent = recent or Recent((), (), np.zeros(0, dtype=np.int64), base, dimension)
                segment_ids = recent.ids
                in_base = stale[base_keywords.positions(stale) >= 0]  # (by binary search: the base is sorted and large)
                dead = np.union1d(_removed_before(conn, base_keywords.ids, recent),
                                  np.union1d(in_base, stale[np.isin(stale, segment_ids)]))
                dead_in_base = int(len(dead) - np.isin(dead, segment_ids).sum())
                limit = _limit(base_keywords)
                # A segment when the update fits one; past the share, `folding` folds the recent passages into a full
                # build after the commit, so the update's articles answer first.
                if len(rows) <= limit and dead_in_base <= limit:  # (the new rows read only then)
                    grown = recent.added(self._fresh(rows, vectors), dead, self.store.sentence_steps(generation))
                    passages = len(base_keywords.ids) + len(grown.ids) - len(grown.removed)
                    return self._write_delta(generation, grown, passages)
                removed = dead[~np.isin(dead, segment_ids)]  # the base's dead (the segments' are left out of `delta`)
            if recent is not None and len(recent.segments):
                delta = recent.joined()
        return self._write_full(generation, full, stale, removed, rows, vectors, dimension, delta, conn)

    def compact(self, conn: sqlite3.Connection, generation: int, taken: tuple[str, ...] = ()) -> Written | None:
        """Write generation `generation + 1` with the same passages, its newest segments merged as `merging` says (the
        segments `taken` by a fold in progress left as they are; by size class only while a fold is due and has not
        started: `folding` folds outside the update lock, and the large segment is not written again for it); None
        when no merge is due or the generation has no readable base keywords."""
        found = self._recent(conn, generation)
        if found is None:
            return None
        recent, base_keywords = found
        frozen = len(taken) if taken and recent.names[: len(taken)] == taken else 0
        absorb = bool(frozen) or not _fold_due(recent, base_keywords)
        merged = recent.merged(self.store.sentence_steps(generation), frozen, absorb)
        if merged is None:
            return None
        return self._write_delta(generation, merged, len(base_keywords.ids) + len(merged.ids) - len(merged.removed))

    def due_fold(self, conn: sqlite3.Connection, generation: int) -> Recent | None:
        """`generation`'s recent passages (their removed ones listed) once they, or the base passages removed, pass
        `MAX_SHARE` of the base, when they are due to be folded into a full build; else None."""
        found = self._recent(conn, generation)
        return found[0] if found is not None and _fold_due(*found) else None

    def _recent(self, conn: sqlite3.Connection, generation: int) -> tuple[Recent, KeywordIndex] | None:
        """`generation`'s recent passages, their removed ones listed, and its base keywords; None after a full build
        or when the base keywords are unreadable (then the next full build writes them again)."""
        recent = self.store.read_recent(generation)
        if recent is None:
            return None
        try:
            base_keywords = self.store.read_keywords(generation)
        except ValueError:
            return None
        return replace(recent, removed=_removed_before(conn, base_keywords.ids, recent)), base_keywords

    def fold(self, conn: sqlite3.Connection, generation: int, recent: Recent) -> Written:
        """Write generation `generation + 1` as a full build of `generation`'s live passages, its base read from this
        folder and its recent ones from `recent` (as `due_fold` gave them); `conn` reads SQLite as it was then."""
        dead = recent.removed
        in_segments = np.isin(dead, recent.ids)
        delta = recent.joined() if len(recent.segments) else None
        return self._write_full(generation, False, np.zeros(0, dtype=np.int64), dead[~in_segments], [], {},
                                recent.dimension, delta, conn)

    def _write_delta(self, generation: int, recent: Recent, passages: int) -> Written:
        """The previous base, linked, and the recent passages: the segments written before, listed again, and the
        update's own: seconds at any corpus size."""
        new_generation = generation + 1
        self.store.link_base(generation, new_generation)
        self.store.write_recent(recent, new_generation)
        return Written(passages, recent.dimension, True)

    def _write_full(
        self,
        generation: int,
        full: bool,
        stale: np.ndarray,
        removed: np.ndarray | None,
        rows: list[NewPassage],
        vectors: Vectors,
        dimension: int,
        previous_delta: Delta | None,
        conn: sqlite3.Connection,
    ) -> Written:
        """Rebuild the HNSW graph, sentence vectors and BM25 over every passage of the coming generation.

        The previous generation's passages are kept but for `stale` and `removed` (its dead base passages, None when
        not known: then read from SQLite); `previous_delta` as `write` read it. All unused if `full`: it keeps none.
        """
        new_generation = generation + 1
        self.store.drop_recent(new_generation)
        spilled, steps = None, None
        if full:
            if vectors:
                dimension = len(next(iter(vectors.values()))[0])
            kept_ids = np.zeros(0, dtype=np.int64)
        else:
            previous_graph = self.store.read_vectors(generation)
            kept_ids = vector_index.contents_ids(previous_graph)
            if previous_delta is not None:
                kept_ids = np.concatenate([kept_ids, previous_delta.ids])
            if removed is None:
                removed = np.setdiff1d(kept_ids, _passage_ids(conn))
            # The kept vectors go to a scratch file and the previous graph is let go before the new one is built.
            spilled = SpilledVectors(self.store.directory, previous_graph, previous_delta, np.union1d(removed, stale))
            steps = vector_index.steps_of(previous_graph)  # kept vectors coded again on the steps they were coded on
            del previous_graph
            kept_ids, dimension = spilled.ids, spilled.dimension
        total = len(kept_ids) + len(rows)
        large = self.progress and total >= LARGE
        new_ids: list[np.ndarray] = []  # noted as the new vectors go into the graph (one pass over the rows fewer)
        chunks = _new_vectors(rows, vectors, dimension, new_ids)
        if spilled is not None:
            chunks = itertools.chain(spilled.chunks(), chunks)
        try:
            # The vectors come a chunk at a time (the graph keeps its own coded copy): never a matrix of them all.
            index = vector_index.build_from(dimension, chunks, total, progress=large, steps=steps)
        finally:
            if spilled is not None:
                spilled.close()
        self.store.write_vectors(index, new_generation)  # under the new generation's name: in force only at the commit
        count = int(index.ntotal)
        del index

        kept = iter(())
        scales = None
        if not full:
            previous = self.store.read_sentences(generation)
            scales = previous.scales  # kept rows are coded again as they were
            kept = kept_sentences(previous, self.store.sentences_path(generation) / VECTORS_FILE, previous_delta, kept_ids)
        fresh = ((pid, vectors[digest][1]) for pid, _, _, _, digest in rows)  # ids above every kept one, in order
        self.store.write_sentence_rows(itertools.chain(kept, fresh), new_generation, dimension, scales, large)
        ids = np.concatenate([kept_ids, *new_ids])
        keywords = self.write_keywords(new_generation, _keyword_rows(conn, full, set(stale.tolist()), rows), len(ids))
        if not np.array_equal(keywords.ids, np.sort(ids)):
            raise RuntimeError("internal error: the keyword and vector indexes hold different passages")
        return Written(count, dimension, False)

    def write_keywords(self, generation: int, passages: Iterable[tuple[int, str, str]], count: int) -> KeywordIndex:
        """Build and write `generation`'s BM25 keyword index over `(id, title, text)` rows in id order."""
        self.store.write_keyword_rows(passages, generation, count, self.progress and count >= LARGE)
        return self.store.read_keywords(generation)

    def has_sentences(self, generation: int) -> bool:
        """True when `generation`'s sentence vectors can be read (an older index has none)."""
        try:
            self.store.read_sentences(generation)
        except ValueError:
            return False
        return True

    @staticmethod
    def _fresh(rows: list[NewPassage], vectors: Vectors) -> list:
        """An update's new passages as delta rows: (id, passage vector, sentence vectors, BM25 tokens)."""
        out = []
        for pid, plan, _, passage, digest in rows:
            body = plan.article.text[passage.start : passage.end]
            out.append((pid, vectors[digest][0], vectors[digest][1], document_tokens(plan.article.title, body)))
        return out


def _limit(base_keywords: KeywordIndex) -> float:
    """Recent passages (or removed base passages) past which the recent passages are folded into a full build."""
    return max(MIN_SIZE, MAX_SHARE * len(base_keywords.ids))


def _fold_due(recent: Recent, base_keywords: KeywordIndex) -> bool:
    """True once the live recent passages, or the base passages removed, pass `_limit` (`recent.removed` listed)."""
    in_segments = int(np.isin(recent.removed, recent.ids).sum())
    limit = _limit(base_keywords)
    return len(recent.ids) - in_segments > limit or len(recent.removed) - in_segments > limit


def _new_vectors(
    rows: Iterable[NewPassage], vectors: Vectors, dimension: int, ids: list[np.ndarray]
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """An update's new passage vectors with their ids, `vector_index.ADD_CHUNK` at a time (each chunk's ids also
    appended to `ids`)."""
    rows = iter(rows)
    while part := list(itertools.islice(rows, vector_index.ADD_CHUNK)):
        matrix = np.empty((len(part), dimension), dtype=np.float32)
        for i, row in enumerate(part):
            matrix[i] = vectors[row[4]][0]
        ids.append(np.asarray([row[0] for row in part], dtype=np.int64))
        yield matrix, ids[-1]


def _removed_before(conn: sqlite3.Connection, base_ids: np.ndarray, recent: Recent) -> np.ndarray:
    """The previous generation's dead passages: those removed since its full build, in the base or a segment.

    A format-1 delta does not list them: then they are the base passages SQLite no longer holds.
    """
    if recent.removed is not None:
        return recent.removed
    return np.setdiff1d(base_ids, _passage_ids(conn))


def _passage_ids(conn: sqlite3.Connection) -> np.ndarray:
    """Every passage id SQLite holds (one read of the whole table: avoided on an update's usual path)."""
    return np.fromiter((r[0] for r in conn.execute("SELECT id FROM passages")), dtype=np.int64)


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
