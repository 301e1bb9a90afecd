"""The vectors an update writes into PostgreSQL, read a window at a time rather than all at once.

An update hands back every passage's vectors to the writer, which COPYs them in the order the update asked for
them. Read into one dict, a 326k-passage build held 3.4 GB before its HNSW index was made (`benchmarks/scale.py
--engine postgres`); the folder's cache reads each row as asked. Here one query reads the next `WINDOW` hashes
in the asked order, on a connection of its own (the writer's is busy with the COPY), and sees the last committed
version: a full rebuild's reused vectors are still there after its own transaction has deleted the passages.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from index.engines.common import SENTENCE_DTYPE, from_cached_blobs

WINDOW = 1000  # hashes read per query, and the most held at once
CACHE = -1  # where a hash's vectors are: the embedding cache (else the id of a committed passage holding them)


def available(conn, model: str, wanted: Mapping[bytes, int], reuse_committed: bool) -> dict[bytes, int]:
    """Where each of `wanted` (hash -> sentences its passage has now) can be read: `CACHE`, or the id of a committed
    passage; a row with another number of sentence vectors is left out. Lengths only: no vector is read here."""
    found: dict[bytes, int] = {}
    hashes = list(wanted)
    for i in range(0, len(hashes), WINDOW):
        rows = conn.execute(
            """SELECT hash, length(vector), length(sentences) FROM embeddings WHERE model = %s AND hash = ANY(%s)""",
            (model, hashes[i : i + WINDOW]),
        )
        for digest, vector_bytes, sentence_bytes in rows:
            dimension = vector_bytes // np.dtype(np.float32).itemsize
            if sentence_bytes == wanted[bytes(digest)] * dimension * np.dtype(SENTENCE_DTYPE).itemsize:
                found[bytes(digest)] = CACHE
    rest = [digest for digest in hashes if digest not in found]
    for i in range(0, len(rest), WINDOW) if reuse_committed else ():
        rows = conn.execute(
            """SELECT DISTINCT ON (p.embed_hash) p.embed_hash, p.id,
                      (SELECT count(*) FROM sentences s WHERE s.passage_id = p.id)
               FROM passages p WHERE p.embed_hash = ANY(%s) ORDER BY p.embed_hash, p.id""",
            (rest[i : i + WINDOW],),
        )
        for digest, pid, sentences in rows:
            if sentences == wanted[bytes(digest)]:
                found[bytes(digest)] = pid
    return found


class WindowedVectors(Mapping[bytes, tuple[np.ndarray, np.ndarray]]):
    """Passage and sentence vectors by text hash, read `WINDOW` at a time in `order` from their own connection.

    Held per hash: its place in `order` and where it is (a passage id or `CACHE`), in arrays; ~100 bytes a
    passage with the dict, where its vectors took ~4.6 KB."""

    def __init__(self, conn, model: str, order: list[bytes], where: dict[bytes, int]) -> None:
        self.conn = conn
        self.model = model
        order = [digest for digest in dict.fromkeys(order) if digest in where]
        self.hashes = np.asarray(order, dtype=object)
        self.sources = np.asarray([where[digest] for digest in order], dtype=np.int64)
        self.position = {digest: i for i, digest in enumerate(order)}
        self.window: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        self.reads = 0  # queries made (a test checks the window reads ahead)

    def __getitem__(self, digest: bytes) -> tuple[np.ndarray, np.ndarray]:
        if digest not in self.window:
            start = self.position[digest]  # (KeyError: not available)
            self.window = self._read(self.hashes[start : start + WINDOW].tolist(), self.sources[start : start + WINDOW])
        return self.window[digest]

    def _read(self, hashes: list[bytes], sources: np.ndarray) -> dict[bytes, tuple[np.ndarray, np.ndarray]]:
        read: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        cached = [digest for digest, source in zip(hashes, sources.tolist()) if source == CACHE]
        if cached:
            self.reads += 1
            for digest, blob, sentence_blob in self.conn.execute(
                "SELECT hash, vector, sentences FROM embeddings WHERE model = %s AND hash = ANY(%s)", (self.model, cached)
            ):
                read[bytes(digest)] = from_cached_blobs(blob, sentence_blob)
        passages = {pid: digest for digest, pid in zip(hashes, sources.tolist()) if pid != CACHE}
        if passages:
            self.reads += 1
            sentences: dict[int, list[np.ndarray]] = {pid: [] for pid in passages}
            for pid, embedding in self.conn.execute(
                "SELECT passage_id, embedding FROM sentences WHERE passage_id = ANY(%s) ORDER BY passage_id, ord",
                (list(passages),),
            ):
                sentences[pid].append(embedding.to_numpy())
            for pid, embedding in self.conn.execute("SELECT id, embedding FROM passages WHERE id = ANY(%s)", (list(passages),)):
                vector = np.asarray(embedding.to_numpy(), dtype=np.float32)
                read[passages[pid]] = (vector, np.asarray(sentences[pid], dtype=SENTENCE_DTYPE).reshape(-1, len(vector)))
        missing = [digest for digest in hashes if digest not in read]
        if missing:  # deleted since `available` looked (no other process can: the update holds the lock)
            raise KeyError(missing[0])
        return read

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.hashes.tolist())

    def __len__(self) -> int:
        return len(self.hashes)

    def __contains__(self, digest: object) -> bool:
        return digest in self.position
