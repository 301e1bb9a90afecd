"""What an update writes, whatever engine stores the index: the protocol `Indexer` drives, and the
change it hands over. `engines.folder.writer` (an index folder) and `engines.postgres.writer` (PostgreSQL) implement it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.engines.known import KnownArticles

# Per text hash: the passage vector and its sentences' vectors (an engine may read them from its store as asked).
Vectors = Mapping[bytes, tuple[np.ndarray, np.ndarray]]


@dataclass
class StoredState:
    """What the committed index holds that an update compares against."""

    generation: int
    signature: str | None
    next_passage_id: int
    dimension: int | None
    known: KnownArticles  # its articles and files, looked up as needed

    @classmethod
    def read(cls, meta: dict[str, str], known: KnownArticles) -> StoredState:
        """From an engine's meta key/values and its lookups."""
        return cls(
            generation=int(meta.get("generation", 0)),
            signature=meta.get("signature"),
            next_passage_id=int(meta.get("next_passage_id", 1)),
            dimension=int(meta.get("dimension") or 0) or None,
            known=known,
        )


@dataclass
class Change:
    """One update's result, committed at once: the new version becomes visible to every reader together."""

    full: bool  # everything is replaced (rebuild, new model or settings)
    # The new and changed articles with their passages (`indexer._Planned`), and the new passages as
    # (passage id, planned article, ordinal, Passage, embedding hash). Each may be iterated several times; an
    # update's are read back from disk on each pass (`indexing.spool`), so a writer should not hold them whole.
    planned: Collection[Any]
    removed: list[str]  # ids of articles gone
    rows: Collection[tuple]
    vectors: Vectors
    fingerprints: dict[str, tuple[int, int]]
    generation: int  # the new version's number
    next_passage_id: int
    signature: str
    model: str
    dimension: int


class Writer(Protocol):
    """Writes one engine's index; used by one update at a time (see `session`)."""

    scratch: Path | None  # where an update keeps its scratch files, only its own while it holds the lock (None: the temp folder)

    def session(self, wait: float) -> AbstractContextManager[None]:
        """Hold the engine's update lock (`IndexBusy` after `wait` seconds) and bring its schema up to date."""

    def state(self) -> StoredState: ...

    def complete(self, generation: int) -> bool:
        """False when part of `generation` is missing or unreadable (an update must re-process everything)."""

    def cached_vectors(self, model: str, wanted: Mapping[bytes, int]) -> Vectors:
        """Vectors already computed with `model` for `wanted` (text hash -> how many sentences the passage has now);
        a row with another number of sentence vectors is left out (the text was split otherwise)."""

    def cache_vectors(self, model: str, items: list[tuple[bytes, np.ndarray, np.ndarray]]) -> None:
        """Keep freshly computed vectors at once: a crash never loses finished work."""

    def keep(self, generation: int, fingerprints: dict[str, tuple[int, int]], progress: bool) -> int:
        """Nothing changed: note the files read, repair what can be, and return how many passages there are."""

    def commit(self, change: Change, progress: bool) -> int:
        """Write the change as one new version; returns how many passages it holds."""

    def compact(self, progress: bool) -> int | None:
        """After a commit: rewrite what the updates piled up (merged or folded) as a version of its own with the same
        passages, so the update's articles answer before it; the new version's number, or None when nothing was due."""

    def fold(self, progress: bool, own_process: bool = False) -> int | None:
        """After an update's session, outside it: rewrite what the updates piled up past a share of the index as a
        full build, holding the update lock only to start and finish (updates go on meanwhile), in a process of its
        own if `own_process` (a serving process: its questions keep the interpreter); the new version's number, or
        None when nothing was due or another process is folding."""

    def tidy(self, generation: int, model: str) -> None:
        """After a commit: drop what no version in use needs (old files, unused cached vectors)."""
