"""The articles an update has read and cut into passages, kept in a temporary SQLite file until its commit rather
than in memory: held as Python objects they took about 2.4 KB a passage, 2.4 GB for a from-scratch build of a
million passages. A writer reads them back as it writes (`PlanSpool` and `SpooledRows` are re-iterable), one
article at a time.

The file lives beside an index folder and is deleted when the update ends; one left there by a crashed update is
deleted by the next (which holds the update lock). Without a folder (PostgreSQL) it is SQLite's private temp
database, which SQLite deletes itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from index.indexing.passages import Passage
from index.reading import Article

PREFIX, SUFFIX = ".planned-", ".sqlite"
DIGEST_BYTES = 20  # a passage's embedding hash (SHA-1)


class Planned(Protocol):
    """An article with its passages and their embedding hashes (`indexer._Planned`)."""

    article: Article
    passages: list[Passage]
    hashes: list[bytes]


class PlanSpool:
    """`Planned` articles in the order added; `len` and iteration (a fresh pass each time)."""

    def __init__(self, make: type, directory: Path | None = None) -> None:
        """`make(article, passages, hashes)` rebuilds a planned article. The file goes in `directory` (an update's
        own while it holds the update lock: a spool left there by a crashed update is deleted) or the temp folder."""
        self.path: Path | None = None
        if directory is not None:
            for stale in Path(directory).glob(f"{PREFIX}*{SUFFIX}"):  # left by an update that crashed
                stale.unlink(missing_ok=True)
            fd, name = tempfile.mkstemp(prefix=PREFIX, suffix=SUFFIX, dir=directory)
            os.close(fd)
            self.path = Path(name)
        self._make = make
        # Without a folder, SQLite's private temp database: on disk, deleted by SQLite on close or at a crash.
        self._conn = sqlite3.connect(self.path if self.path is not None else "")
        try:
            self._conn.execute("PRAGMA journal_mode=OFF")  # a scratch file: nothing to recover after a crash
            self._conn.execute("PRAGMA synchronous=OFF")
            self._conn.execute("CREATE TABLE planned (number INTEGER PRIMARY KEY, article TEXT, text TEXT, spans BLOB, hashes BLOB)")
        except BaseException:
            self.close()
            raise
        self._articles = 0
        self._passages = 0

    def add(self, plan: Planned) -> None:
        """Keep one planned article on disk."""
        article = plan.article
        fields = {f.name: getattr(article, f.name) for f in dataclasses.fields(article) if f.name != "text"}
        spans = [len(plan.passages)]
        for p in plan.passages:
            spans += [p.start, p.end, len(p.sentences), *(bound for span in p.sentences for bound in span)]
        self._conn.execute(
            "INSERT INTO planned VALUES (?, ?, ?, ?, ?)",
            (self._articles, json.dumps(fields), article.text, np.asarray(spans, dtype=np.int64).tobytes(), b"".join(plan.hashes)),
        )
        self._articles += 1
        self._passages += len(plan.passages)

    def __len__(self) -> int:
        return self._articles

    @property
    def passages(self) -> int:
        """How many passages the spooled articles hold together."""
        return self._passages

    def __iter__(self) -> Iterator[Planned]:
        for row in self._conn.execute("SELECT article, text, spans, hashes FROM planned ORDER BY number"):
            yield self._planned(*row)

    def passage_hashes(self) -> Iterator[tuple[bytes, int]]:
        """Each passage's embedding hash and sentence count, in order (without rebuilding the articles)."""
        for spans, hashes in self._conn.execute("SELECT spans, hashes FROM planned ORDER BY number"):
            numbers, at = np.frombuffer(spans, dtype=np.int64).tolist(), 1
            for i in range(numbers[0]):
                yield hashes[i * DIGEST_BYTES : (i + 1) * DIGEST_BYTES], numbers[at + 2]
                at += 3 + 2 * numbers[at + 2]

    def close(self) -> None:
        """Delete the file."""
        self._conn.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def _planned(self, fields: str, text: str, spans: bytes, hashes: bytes) -> Planned:
        numbers = np.frombuffer(spans, dtype=np.int64).tolist()
        passages, at = [], 1
        for _ in range(numbers[0]):
            start, end, count = numbers[at : at + 3]
            bounds = numbers[at + 3 : at + 3 + 2 * count]
            passages.append(Passage(start, end, tuple(zip(bounds[::2], bounds[1::2]))))
            at += 3 + 2 * count
        digests = [hashes[i : i + DIGEST_BYTES] for i in range(0, len(hashes), DIGEST_BYTES)]
        return self._make(Article(text=text, **json.loads(fields)), passages, digests)


class SpooledRows:
    """An update's new passages as a writer takes them, `(passage id, planned article, ordinal, Passage, hash)`,
    numbered from `first_id` in spool order; `len` and iteration (a fresh pass over the spool each time)."""

    def __init__(self, spool: PlanSpool, first_id: int) -> None:
        self.spool = spool
        self.first_id = first_id
        self._count = spool.passages

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[tuple[int, Planned, int, Passage, bytes]]:
        pid = self.first_id
        for plan in self.spool:
            for ordinal, (passage, digest) in enumerate(zip(plan.passages, plan.hashes)):
                yield pid, plan, ordinal, passage, digest
                pid += 1
