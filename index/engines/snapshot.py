"""What one question reads from one committed index version, whatever engine stores it.

`engines.folder.snapshot` (an index folder: SQLite + the generation's files) and `engines.postgres.snapshot`
(PostgreSQL + pgvector) implement it; search, rescoring, filters and stories only ask these questions.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np

from index.engines.stored import Stats, StoredArticle


class PassageVectorsView(Protocol):
    """Passage vectors of the version."""

    ntotal: int

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray: ...

    def nearest(self, query: np.ndarray, n: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        """The `n` passages closest to `query` (inner product of unit vectors), among `allowed` when given."""


class KeywordsView(Protocol):
    """BM25 over title + passage stems of the version."""

    def __len__(self) -> int:
        """How many passages are scored."""

    def frequencies(self, stems: list[str]) -> dict[str, int]:
        """How many passages hold each stem (one read for all of a question's)."""

    def best(
        self, stems: list[str], n: int, allowed: set[int] | None = None, also: list[int] = (),
        earlier_stems: list[str] = (), earlier_weight: float = 0.0,
    ) -> tuple[list[int], dict[int, float]]:
        """The `n` best-scoring passages (score > 0, among `allowed`), and the scores of those and of `also`.

        `earlier_stems` (a thread's earlier questions) add their BM25 score times `earlier_weight`.
        """


class SentencesView(Protocol):
    """Sentence vectors of the version's passages."""

    def __len__(self) -> int: ...

    def cosines(self, pids: list[int], query: np.ndarray) -> list[np.ndarray]:
        """Per passage, the cosine of each of its sentences to `query` (empty when it has none)."""

    def best_cosines(self, pids: list[int], query: np.ndarray) -> np.ndarray: ...

    def search(self, query: np.ndarray, n: int) -> list[tuple[int, int, float]]:
        """(passage id, sentence number, cosine) of the `n` sentences closest to `query`."""


class Snapshot(Protocol):
    """One consistent index version, read inside one transaction."""

    generation: int
    vectors: PassageVectorsView
    keywords: KeywordsView
    sentences: SentencesView

    def article_count(self) -> int: ...

    def catalog_rows(self) -> list[tuple[str, str | None, str | None, str | None]]:
        """(article id, source, url, published) of every article: what filters look at."""

    def passages_of(self, article_ids: set[str]) -> set[int]:
        """Ids of these articles' passages."""

    def quoting(self, phrases: list[str]) -> set[int]:
        """Ids of the passages whose text holds every quoted phrase."""

    def passage_spans(self, after: int = 0) -> list[tuple[str, str | None, int, int, int]]:
        """(article id, published, smallest passage id, largest, passage count) of every article with passages
        numbered above `after`: each passage's publication day, a row an article (read once per version; a newer
        version reads only its new passages' articles, as ids only grow)."""

    def passage_rows(self, pids: list[int]) -> dict[int, dict]:
        """Text, offsets, sentences and article of each passage id (see `common.passage_row`)."""

    def lead_passages(self, article_ids: set[str]) -> list[tuple]:
        """(lead passage id, article id, title, source, url, published, path) of these articles, newest first."""

    def lead_text(self, pid: int) -> tuple[int, list[list[int]], str]:
        """(passage start, sentence spans, article text) of one passage."""


class Reader(Protocol):
    """Reads one engine's index: snapshots for questions, plus stats, articles and arrivals; thread-safe."""

    def generation(self) -> int:
        """The committed index version (0 before the first update)."""

    def exists(self) -> bool:
        """True once an update has been committed (without creating anything to find out)."""

    def recorded_model(self) -> str | None:
        """The model key the committed index was embedded with; None before the first update."""

    def check_model(self, model: str) -> None:
        """`ModelMismatch` when the committed index was embedded with another model."""

    def snapshot(self) -> AbstractContextManager[Snapshot | None]:
        """The newest committed version, read in one transaction (None before the first update); may raise
        `IndexCorrupt` when a newer version replaced what it was reading: read again."""

    def stats(self, fallback_model: str) -> Stats: ...

    def article(self, article_id: str) -> StoredArticle | None: ...

    def arrivals(self, after: int, limit: int) -> list[tuple[int, str]]: ...

    def recent_titles(self, limit: int) -> list[str]:
        """Titles of the newest articles (by publication, then addition)."""

    def find_article(self, urls: list[str], text: str | None) -> tuple[str, str] | None:
        """(id, title) of an article with one of these urls or exactly this text."""

    def last_arrival(self) -> int: ...
