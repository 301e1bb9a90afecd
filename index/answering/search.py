"""Hybrid search: dense, sentence and keyword (BM25) candidates, fused, rescored by sentence,
deduplicated, highlighted — or an honest abstention.

Each question reads one consistent index version (a `Snapshot` from the engine's `Reader`). The
steps live in their own modules: `candidates` (retrieval and fusion), `rescoring` (sentences,
highlight), `answers` (folding duplicates, excerpts, links), `results` (what is returned).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Generic, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from index.answering.candidates import favour_fresh, gather
from index.answering.published_days import PublishedDays
from index.answering.ranking import DEFAULT_RANKING, Ranking
from index.answering.reranking import Reranker
from index.answering.rescoring import rescore
from index.answering.stories import Story, group
from index.engines.snapshot import Reader, Snapshot
from index.errors import IndexCorrupt
from index.models.cross_encoder import CrossEncoder
from index.models.embedder import Embedder
from index.questions.context import (
    NO_CONTEXT,
    Context,
    EmptyQuestion,
    ReadQuestion,
    blend,
    clean_question,
    read_question,
    within,
)
from index.questions.filters import Catalog, Filters
from index.questions.recency import current_window, fresh_window, today
from index.quotes.answers import fold
from index.quotes.results import Evidence, SearchResult
from index.settings import Settings
from index.text.keywords import idf, query_terms, question_words, quoted_phrases, stem

T = TypeVar("T")

_blas_limited = threading.Lock()
_BLAS_LIMIT: list = []


def _one_blas_thread() -> None:
    """Let numpy's BLAS use one thread (process-wide, once): its products here are small, and OpenBLAS's
    idle threads spin after each one, taking the CPU the next question's embedding needs. Scanning a
    2,450-passage delta with them running made torch's question embedding 2.6x slower (17 -> 44 ms p50)."""
    with _blas_limited:
        if not _BLAS_LIMIT:
            _BLAS_LIMIT.append(threadpool_limits(limits=1, user_api="blas"))


class PerVersion(Generic[T]):
    """One value computed from an index version, kept until a question reads a newer one; thread-safe. With `grow`,
    a newer version's value is grown from the kept one (what changed read) rather than built anew."""

    def __init__(self, build: Callable[[Snapshot], T], grow: Callable[[T, Snapshot], T] | None = None) -> None:
        self._build = build
        self._grow = grow
        self._lock = threading.Lock()
        self._kept: tuple[int, T | None] = (0, None)

    def of(self, snapshot: Snapshot) -> T:
        with self._lock:
            generation, kept = self._kept
            if generation != snapshot.generation:
                newer = self._grow is not None and kept is not None and snapshot.generation > generation
                self._kept = (snapshot.generation, self._grow(kept, snapshot) if newer else self._build(snapshot))
            return self._kept[1]


class Searcher:
    """Answers questions from an index `Reader` (any engine); safe to share between threads."""

    def __init__(
        self, reader: Reader, embedder: Embedder, settings: Settings, cross_encoder: CrossEncoder | None = None
    ) -> None:
        self.reader = reader
        self.embedder = embedder
        self.settings = settings
        self.reranker = Reranker(cross_encoder)  # the reader; off when `cross_encoder` is None
        self._catalogs = PerVersion(lambda snapshot: Catalog(snapshot.catalog_rows()))  # what filters look at
        self._article_counts = PerVersion(lambda snapshot: snapshot.article_count())  # (a count of rows: 0.4 ms at 1M)
        # What "this week" looks at: each passage's publication day.
        self._days = PerVersion(lambda snapshot: PublishedDays.from_spans(snapshot.passage_spans(), snapshot.passages_of),
                                lambda days, snapshot: days.grown(snapshot))
        self.warmed = False  # set by `warm_up`: a serving process, which reads each new version as it commits

    def generation(self) -> int:
        """The committed index version."""
        return self.reader.generation()

    def warm_up(self) -> None:
        """Load the current version's files (and its passages' publication days) now rather than on the first question."""
        self.reader.check_model(self.embedder.key)
        with self.reader.snapshot() as snapshot:
            if snapshot is not None:
                self._days.of(snapshot)
        self.warmed = True

    def load_reader(self) -> None:
        """Load the reader now, so the first question does not wait for it (unavailable: noted, and logged once)."""
        self.reranker.load()

    def reader_status(self) -> str:
        return self.reranker.status()

    def stories(self, article_ids: set[str], limit: int, scope: Filters | None = None) -> list[Story]:
        """The top `limit` stories among these articles (those `scope` allows), read from one index version (for digests)."""
        with self.reader.snapshot() as snapshot:
            if snapshot is None:
                return []
            if scope:
                article_ids = article_ids & scope.article_ids(self._catalogs.of(snapshot))
            return group(snapshot, article_ids, limit, self.settings.public_url)

    def search(
        self,
        question: str,
        k: int = 3,
        offset: int = 0,
        ranking: Ranking = DEFAULT_RANKING,
        asked: date | None = None,
        context: Context = NO_CONTEXT,
    ) -> SearchResult:
        """The top `k` answers after the first `offset` (for "more results"), or an abstention.

        `asked` is the day "this week" in the question counts back from (default: today, UTC);
        `context` holds the thread's earlier questions and the channel's scope.
        """
        whole = clean_question(question)
        question = within(whole)  # a long question is read up to a space, and the answer says where it stops
        cut = f"Read the first {len(question):,} of {len(whole):,} characters of the question" if question != whole else ""
        read = read_question(question, context)  # FilterError for a malformed filter
        if not read.text:
            raise EmptyQuestion("the question is empty once its filters are taken out")
        _one_blas_thread()
        self.reader.check_model(self.embedder.key)  # before loading a model that cannot match the vectors
        query = self.embedder.encode_query(read.text)
        if read.earlier:
            query = blend(query, self.embedder.encode_query(read.earlier), read.weight)
        for attempt in range(3):
            try:
                with self.reader.snapshot() as snapshot:
                    if snapshot is None:
                        return SearchResult(question, True, [], 0)
                    return self._search(snapshot, question, read, query, k, offset, ranking, asked or today(), cut)
            except IndexCorrupt:
                if attempt == 2:
                    raise
                # a newer version replaced the files being read meanwhile: read again
        raise AssertionError("unreachable")

    def _search(
        self,
        files: Snapshot,
        question: str,
        read: ReadQuestion,
        query: np.ndarray,
        k: int,
        offset: int,
        ranking: Ranking,
        asked: date,
        cut: str = "",
    ) -> SearchResult:
        """Search `read.text` (with its thread context) among what the filters allow; results show `question`;
        `cut` says where an over-long question was cut."""
        articles = self._article_counts.of(files)
        documents = max(1, len(files.keywords))
        notes, allowed = [cut, read.context_note()], None
        if read.filters or read.scope or read.articles is not None:
            catalog = self._catalogs.of(files)
            ids = {aid for aid, *_ in catalog.rows} if read.articles is None else set(read.articles)
            for filters in (read.filters, read.scope):
                if filters:
                    ids &= filters.article_ids(catalog)
            if not ids:
                reading = f"No articles {read.describe()} — {articles:,} indexed in all"
                return SearchResult(question, True, [], articles, reading=reading)
            allowed = files.passages_of(ids)
            described = read.describe()
            notes.insert(0, f"Searched {len(ids):,} of {articles:,} articles" + (f", {described}" if described else ""))
        reading = ". ".join(note for note in notes if note)
        stems = list(dict.fromkeys(stem(t) for t in query_terms(read.text)))
        earlier_stems = [s for s in dict.fromkeys(stem(t) for t in query_terms(read.earlier)) if s not in stems]
        frequencies = files.keywords.frequencies(stems + earlier_stems)
        share = {s: read.weight if s in earlier_stems else 1.0 for s in frequencies}
        # A word no passage holds cannot be matched: weighing it (at the highest IDF) would only sink
        # every sentence's share, so it counts in `known` (how much of the question the corpus knows).
        weights = {s: share[s] * idf(f, documents) for s, f in frequencies.items() if f > 0}
        all_weight = sum(share[s] * idf(f, documents) for s, f in frequencies.items())
        known = sum(weights.values()) / all_weight if all_weight else 0.0
        phrases = quoted_phrases(read.text)
        # Quoted phrases narrow the search to the passages quoting them, unless none does: then
        # the words still count, as in any question, rather than nothing being answered.
        quoting = files.quoting(phrases) if phrases else set()
        if allowed is not None and quoting & allowed:
            allowed &= quoting
        elif allowed is None and quoting:
            allowed = quoting
        candidates = gather(files, stems, query, ranking, allowed, earlier_stems, read.weight)
        if not candidates:
            return SearchResult(question, True, [], articles, reading=reading)
        window, weight = fresh_window(read.all_text), ranking.recency
        if window is None:  # no time words: the articles of the past month are what "now" means
            window, weight = current_window(read.all_text, asked), ranking.untimed_recency
        if window is not None and weight > 0:
            favour_fresh(self._days.of(files), candidates, asked, window, weight)
        top = max(ranking.rescored, k + offset + 10)
        words = question_words(read.all_text)  # names the question already holds (`asked` is its date)
        ranked = rescore(files, query, candidates, weights, top, ranking, words)
        # The reader reads the question as asked: joined with a thread's earlier questions, a change of topic was
        # read as the earlier one. A follow-up ("why were they kicked out?") reads lower than a question that
        # stands alone, so its veto has its own floor (`Floors.follow_up_reading`; benchmarks/followups.py).
        ranked = self.reranker.rerank(read.text, ranked, ranking, words)
        read_ones = ranked[: ranking.rerank]
        evidence = Evidence(
            passage=max(c.dense for c in candidates),
            sentence=max(c.sentence_dense for c in ranked[:top]),
            lexical=max(c.match for c in ranked[:top]),
            known=known,
            indexed_sentences=len(files.sentences),
            reading=max((c.reading for c in read_ones if c.reading is not None), default=None),
            sentence_reading=max((max(c.sentence_readings) for c in read_ones if c.sentence_readings), default=None),
            follow_up=bool(read.earlier),
        )
        if not evidence.answerable():
            return SearchResult(question, True, [], articles, evidence, reading)
        answers = fold(ranked, k + offset, self.settings.public_url)
        own = {c.pid: c for c in ranked[:top]}
        for answer in answers:  # each answer's own evidence, for callers that post answers one by one (follows)
            cand = own.get(answer.passage_id)
            if cand is not None:
                answer.evidence = replace(
                    evidence, passage=cand.dense, sentence=cand.sentence_dense, lexical=cand.match, reading=cand.reading,
                    sentence_reading=max(cand.sentence_readings) if cand.sentence_readings else None,
                )
        return SearchResult(question, not answers, answers[offset:], articles, evidence, reading)
