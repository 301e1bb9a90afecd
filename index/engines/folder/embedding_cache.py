"""The index folder's embedding cache: vectors an update has computed and not committed yet, so a run that is
killed resumes without embedding again what it finished. Each commit empties it: committed vectors live in the
generation's files (`generations.reuse`). It is a database of its own (`embeddings.sqlite`): emptied, it shrinks
at once, where inside the index's database a million passages' cached vectors (6 GB) left free pages that took
longer to give back than the whole build (`benchmarks/scale.py`).

`CachedVectors` reads a row only when asked for it: a full build of a big corpus holds none of its vectors in
memory between embedding them and writing the generation's files.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from index.engines.common import SENTENCE_DTYPE, cached_blobs, from_cached_blobs

CHUNK = 500  # hashes per IN (...) query
CACHE_NAME = "embeddings.sqlite"


def open_cache(directory: Path) -> sqlite3.Connection:
    """A connection to the cache beside the index in `directory` (made when missing)."""
    conn = sqlite3.connect(Path(directory) / CACHE_NAME, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        """CREATE TABLE IF NOT EXISTS embeddings (
               model TEXT NOT NULL, hash BLOB NOT NULL, vector BLOB NOT NULL, sentences BLOB NOT NULL,
               PRIMARY KEY (model, hash))"""
    )
    return conn


class CachedVectors(Mapping[bytes, tuple[np.ndarray, np.ndarray]]):
    """Passage and sentence vectors by text hash: rows of the cache, then `committed` ones (the generation's,
    `generations.reuse`), each read when asked for."""

    def __init__(self, conn: sqlite3.Connection, model: str, cached: set[bytes]) -> None:
        self.conn = conn
        self.model = model
        self.cached = cached
        self.committed: Mapping[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def __getitem__(self, digest: bytes) -> tuple[np.ndarray, np.ndarray]:
        if digest not in self.cached:
            return self.committed[digest]
        row = self.conn.execute(
            "SELECT vector, sentences FROM embeddings WHERE model = ? AND hash = ?", (self.model, digest)
        ).fetchone()
        if row is None:
            raise KeyError(digest)
        return from_cached_blobs(*row)

    def __iter__(self) -> Iterator[bytes]:
        yield from self.cached
        yield from (digest for digest in self.committed if digest not in self.cached)

    def __len__(self) -> int:
        return len(self.cached) + sum(1 for digest in self.committed if digest not in self.cached)

    def __contains__(self, digest: object) -> bool:
        return digest in self.cached or digest in self.committed


def cached_vectors(conn: sqlite3.Connection, model: str, wanted: Mapping[bytes, int]) -> CachedVectors:
    """The cached vectors of `wanted` (text hash -> sentences the passage has now) computed with `model`.

    A row with another number of sentence vectors (the text was split otherwise when it was cached) or none
    (cached before sentence vectors existed) is left out: it is embedded again.
    """
    hashes = list(wanted)
    found: set[bytes] = set()
    for i in range(0, len(hashes), CHUNK):
        chunk = hashes[i : i + CHUNK]
        rows = conn.execute(
            f"""SELECT hash, length(vector), length(sentences) FROM embeddings
                WHERE model = ? AND sentences IS NOT NULL AND hash IN ({",".join("?" * len(chunk))})""",
            (model, *chunk),
        )
        for digest, vector_bytes, sentence_bytes in rows:
            dimension = vector_bytes // np.dtype(np.float32).itemsize
            if sentence_bytes == wanted[bytes(digest)] * dimension * np.dtype(SENTENCE_DTYPE).itemsize:
                found.add(bytes(digest))
    return CachedVectors(conn, model, found)


def cache_vectors(conn: sqlite3.Connection, model: str, items: list[tuple[bytes, np.ndarray, np.ndarray]]) -> None:
    """Store freshly computed passage and sentence vectors (committed at once: a crash never loses finished work)."""
    with conn:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT OR REPLACE INTO embeddings(model, hash, vector, sentences) VALUES (?, ?, ?, ?)",
            [
                (model, digest, *cached_blobs(vec, sentences)) for digest, vec, sentences in items
            ],
        )


def clear_cache(conn: sqlite3.Connection) -> int:
    """Empty the cache after a committed update: every vector it computed is now in the generation's files, the
    others are of no use. Vectors of an interrupted update stay until then, so a resumed run still finds them.
    Returns how many went."""
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        gone = conn.execute("DELETE FROM embeddings").rowcount
    if gone:
        conn.execute("VACUUM")  # of an empty database: instant, and the file shrinks to a few pages
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return gone
