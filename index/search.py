"""Hybrid search: dense (FAISS) and keyword (BM25) candidates, fused, deduplicated, highlighted.

Each question reads one consistent index version: a SQLite read transaction pins the snapshot,
and the FAISS vectors and BM25 index of that same generation are swapped in between questions
when they change.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from datetime import date

import faiss
import numpy as np

from . import vector_index
from .embeddings import Embedder
from .keyword_index import KeywordIndex
from .keywords import idf, phrase_query, query_terms, quoted_phrases, sentence_match, stem
from .links import passage_link
from .recency import fresh_window, is_fresh, parse_day, today
from .settings import Settings
from .store import KEEP_GENERATIONS, IndexCorrupt, Store

MAX_QUESTION_CHARS = 2000
# Abstain unless some passage is close in meaning or some sentence holds most of the question's
# rare words. On RealTimeQA 2022 every real question's best cosine was >= 0.43 while 11 of 12
# off-topic questions stayed under 0.40; the lexical rescue keeps name look-ups ("Who is Jens
# Stoltenberg?", cosine 0.26 on the seeds) answerable.
DENSE_FLOOR = 0.40
LEXICAL_FLOOR = 0.8
DUPLICATE_OVERLAP = 0.6  # share of word 3-grams two passages must share to count as the same text
RRF_K = 60
_WORD = re.compile(r"\w+", re.UNICODE)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ranking:
    """How candidates are found and scored; the benchmark compares these side by side."""

    # Weights tuned on RealTimeQA 2022 (docs/benchmarks.md): BM25 is the stronger signal on news
    # questions full of names, the dense score adds paraphrase, the best sentence rewards passages
    # where the question's rare words stand together.
    dense: float = 0.4  # weight of the min-max normalized cosine similarity
    keyword: float = 0.6  # weight of BM25 relative to the best BM25 among the candidates
    sentence: float = 0.3  # weight of the best sentence's share of the question's IDF mass
    candidates: int = 100  # taken from each retriever
    rescored: int = 30  # top fused candidates whose sentences are scored
    # Added when the question has time words ("this week") and the article was published in the
    # span they point to, counted back from the day the question is asked (weighted-fusion scale).
    recency: float = 0.2
    fusion: str = "weighted"  # or "rrf": reciprocal rank fusion of the two rankings (for comparison)


DEFAULT_RANKING = Ranking()
# The two retrievers alone, as keyword search and a plain vector-search bot rank: no dates, no sentences.
BM25_ONLY = Ranking(dense=0.0, keyword=1.0, sentence=0.0, recency=0.0)
DENSE_ONLY = Ranking(dense=1.0, keyword=0.0, sentence=0.0, recency=0.0)


class EmptyQuestion(ValueError):
    """The question has no text."""


@dataclass
class ArticleInfo:
    """The article a quote comes from."""

    id: str
    title: str
    source: str | None
    url: str | None
    published: str | None
    path: str | None


@dataclass
class Answer:
    """One verbatim quote: `quote == article_text[start:end]`; `highlight` is a sentence inside it."""

    quote: str
    highlight: str
    score: float
    link: str
    start: int
    end: int
    article: ArticleInfo
    also_in: list[ArticleInfo] = field(default_factory=list)
    passage_id: int = 0


@dataclass
class SearchResult:
    """The answers to one question, or an honest abstention."""

    question: str
    abstained: bool
    answers: list[Answer]
    articles: int = 0

    def to_json(self) -> dict:
        """The `newsbot ask --json` shape."""
        return {
            "question": self.question,
            "abstained": self.abstained,
            "answers": [
                {
                    "quote": a.quote,
                    "highlight": a.highlight,
                    "score": round(a.score, 4),
                    "link": a.link,
                    "start": a.start,
                    "end": a.end,
                    "article": asdict(a.article),
                    "also_in": [asdict(x) for x in a.also_in],
                }
                for a in self.answers
            ],
        }


def clean_question(question: str) -> str:
    """Collapse whitespace and cut an over-long question; raise `EmptyQuestion` for a blank one."""
    text = " ".join(question.split())
    if not text:
        raise EmptyQuestion("the question is empty")
    return text[:MAX_QUESTION_CHARS]


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return set(zip(words, words[1:], words[2:])) if len(words) >= 3 else {tuple(words)}


def _overlap(a: set, b: set) -> float:
    return len(a & b) / max(1, min(len(a), len(b)))


@dataclass
class _Candidate:
    pid: int
    dense: float = 0.0
    keyword: float = 0.0
    score: float = 0.0
    row: dict | None = None
    highlight: str = ""
    match: float = 0.0  # best sentence's share of the question's IDF mass


@dataclass(frozen=True)
class _Generation:
    """The in-memory files of one index generation."""

    number: int
    vectors: faiss.Index
    keywords: KeywordIndex


class Searcher:
    """Answers questions from a `Store`; safe to share between threads."""

    def __init__(self, store: Store, embedder: Embedder, settings: Settings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._local = threading.local()
        self._swap = threading.Lock()
        self._loaded: dict[int, _Generation] = {}  # the newest two: a slow reader may still be on the older

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection; the first call also readies the thread for searching."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # One vector per question leaves OpenMP nothing to share out, and its idle threads spin
            # for CPU afterwards: on 2 cores, p95 latency went from 29 to 42 ms with them. The
            # setting is per thread, so an indexer thread still builds HNSW graphs in parallel.
            faiss.omp_set_num_threads(1)
            conn = self._local.conn = self.store.connect()
        return conn

    def load(self, generation: int, conn: sqlite3.Connection) -> _Generation:
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
                self._loaded = {n: g for n, g in self._loaded.items() if n > generation - KEEP_GENERATIONS}
                self._loaded[generation] = _Generation(generation, vectors, keywords)
            return self._loaded[generation]

    def generation(self) -> int:
        """The committed index version on disk."""
        return Store.generation(self._conn())

    def warm_up(self) -> None:
        """Load the current generation's files now rather than on the first question."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            generation = Store.generation(conn)
            if generation:
                Store.check_model(conn, self.settings.model)
                self.load(generation, conn)
        finally:
            conn.execute("COMMIT")

    def search(
        self,
        question: str,
        k: int = 3,
        offset: int = 0,
        ranking: Ranking = DEFAULT_RANKING,
        asked: date | None = None,
    ) -> SearchResult:
        """The top `k` answers after the first `offset` (for "more results"), or an abstention.

        `asked` is the day "this week" in the question counts back from (default: today, UTC).
        """
        question = clean_question(question)
        conn = self._conn()
        Store.check_model(conn, self.settings.model)  # before loading a model that cannot match the vectors
        query = self.embedder.encode_query(question)
        for attempt in range(3):
            conn.execute("BEGIN")
            try:
                generation = Store.generation(conn)
                if generation == 0:
                    return SearchResult(question, True, [], 0)
                try:
                    files = self.load(generation, conn)
                except IndexCorrupt:
                    if attempt == 2:
                        raise
                    continue  # a newer version replaced those files meanwhile: read again
                return self._search(conn, files, question, query, k, offset, ranking, asked or today())
            finally:
                conn.execute("COMMIT")
        raise AssertionError("unreachable")

    def _search(
        self,
        conn: sqlite3.Connection,
        files: _Generation,
        question: str,
        query: np.ndarray,
        k: int,
        offset: int,
        ranking: Ranking,
        asked: date,
    ) -> SearchResult:
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        documents = max(1, len(files.keywords))
        stems = list(dict.fromkeys(stem(t) for t in query_terms(question)))
        weights = {s: idf(files.keywords.frequency(s), documents) for s in stems}
        phrases = quoted_phrases(question)
        # Quoted phrases narrow the search to the passages quoting them, unless none does: then
        # the words still count, as in any question, rather than nothing being answered.
        allowed = (self._passages_with(conn, phrases) or None) if phrases else None
        candidates = self._candidates(files, stems, query, ranking, allowed)
        if not candidates:
            return SearchResult(question, True, [], articles)
        window = fresh_window(question)
        if window is not None and ranking.recency > 0:
            self._favour_fresh(conn, candidates, asked, window, ranking.recency)
        ranked = self._rescore(conn, candidates, weights, max(ranking.rescored, k + offset + 10), ranking)
        if max(c.dense for c in candidates) < DENSE_FLOOR and max(c.match for c in ranked) < LEXICAL_FLOOR:
            return SearchResult(question, True, [], articles)
        answers = self._answers(conn, ranked, k + offset)
        return SearchResult(question, not answers, answers[offset:], articles)

    @staticmethod
    def _passages_with(conn: sqlite3.Connection, phrases: list[str]) -> set[int]:
        """Ids of the passages whose text holds every quoted phrase, found by FTS5."""
        rows = conn.execute("SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?", (phrase_query(phrases, "body"),))
        return {row[0] for row in rows}

    def _candidates(
        self, files: _Generation, stems: list[str], query: np.ndarray, ranking: Ranking, allowed: set[int] | None = None
    ) -> list[_Candidate]:
        """Dense and keyword candidates (only `allowed` passages, when given), each scored by both signals, fused."""
        vectors, keywords = files.vectors, files.keywords
        found: dict[int, _Candidate] = {}
        if vectors.ntotal and ranking.dense > 0:
            scores, ids = vectors.search(query.reshape(1, -1), min(ranking.candidates, vectors.ntotal))
            for pid, score in zip(ids[0].tolist(), scores[0].tolist()):
                if pid >= 0 and (allowed is None or pid in allowed):
                    found[pid] = _Candidate(pid, dense=score)
        if allowed is not None and not stems:  # a quoted phrase of stop words only: no keyword ranking
            for pid in sorted(allowed)[: ranking.candidates]:
                found.setdefault(pid, _Candidate(pid, dense=float(vectors.reconstruct(pid) @ query)))
        if stems and ranking.keyword > 0 and len(keywords):
            bm25 = keywords.scores(stems)  # every passage's score: dense candidates get theirs too
            if allowed is not None:
                ranked_scores = np.full_like(bm25, -1.0)
                positions = keywords.positions(sorted(allowed))
                positions = positions[positions >= 0]
                ranked_scores[positions] = bm25[positions]
            else:
                ranked_scores = bm25
            n = min(ranking.candidates, len(bm25))
            top = np.argpartition(-ranked_scores, n - 1)[:n]
            for pid in keywords.ids[top[ranked_scores[top] > 0]].tolist():
                if pid not in found:
                    found[pid] = _Candidate(pid, dense=float(vectors.reconstruct(pid) @ query))
            positions = keywords.positions(list(found))
            for cand, position in zip(found.values(), positions.tolist()):
                cand.keyword = float(bm25[position]) if position >= 0 else 0.0
        candidates = list(found.values())
        if not candidates:
            return candidates
        if ranking.fusion == "rrf":
            for weight, signal in ((ranking.dense, "dense"), (ranking.keyword, "keyword")):
                order = sorted(candidates, key=lambda c: getattr(c, signal), reverse=True)
                for rank, cand in enumerate(order, 1):
                    cand.score += weight / (RRF_K + rank)
            return candidates
        top_keyword = max(c.keyword for c in candidates) or 1.0
        low = min(c.dense for c in candidates)
        spread = (max(c.dense for c in candidates) - low) or 1.0
        for cand in candidates:
            cand.score = ranking.dense * (cand.dense - low) / spread + ranking.keyword * cand.keyword / top_keyword
        return candidates

    @staticmethod
    def _favour_fresh(conn: sqlite3.Connection, candidates: list[_Candidate], asked: date, window: int, weight: float) -> None:
        """Raise candidates whose article was published within `window` days before `asked`."""
        marks = ",".join("?" * len(candidates))
        published = dict(
            conn.execute(
                f"SELECT p.id, a.published FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id IN ({marks})",
                [c.pid for c in candidates],
            )
        )
        for cand in candidates:
            if is_fresh(parse_day(published.get(cand.pid)), asked, window):
                cand.score += weight

    def _rescore(
        self,
        conn: sqlite3.Connection,
        candidates: list[_Candidate],
        weights: dict[str, float],
        top: int,
        ranking: Ranking,
    ) -> list[_Candidate]:
        """Score the best sentence of the top fused candidates; it picks the highlight and adjusts the rank."""
        ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
        head = ranked[:top]
        rows = self._passage_rows(conn, [c.pid for c in head])
        for cand in head:
            cand.row = rows.get(cand.pid)
            if cand.row is None:
                continue
            best, best_match = "", -1.0
            for sentence in cand.row["sentence_texts"]:
                match = sentence_match(sentence, weights)
                if match > best_match:
                    best, best_match = sentence, match
            cand.highlight = best or cand.row["quote"]
            cand.match = max(best_match, 0.0)
            cand.score += ranking.sentence * max(best_match, 0.0)
        head.sort(key=lambda c: c.score, reverse=True)
        return head + ranked[top:]

    def _answers(self, conn: sqlite3.Connection, ranked: list[_Candidate], n: int) -> list[Answer]:
        """Walk the ranking, folding near-identical passages into one answer, until `n` answers."""
        answers: list[Answer] = []
        shingles: list[set] = []
        for cand in ranked:
            if cand.row is None:
                continue  # beyond the rescored head (only reached when most of it were duplicates)
            grams = _shingles(cand.row["quote"])
            duplicate = next((i for i, seen in enumerate(shingles) if _overlap(grams, seen) >= DUPLICATE_OVERLAP), None)
            if duplicate is not None:
                kept, article = answers[duplicate], cand.row["article"]
                if article.id != kept.article.id and all(article.id != o.id for o in kept.also_in):
                    kept.also_in.append(article)
                continue
            if len(answers) < n:
                answers.append(self._answer(cand))
                shingles.append(grams)
        return answers

    def _passage_rows(self, conn: sqlite3.Connection, pids: list[int]) -> dict[int, dict]:
        if not pids:
            return {}
        marks = ",".join("?" * len(pids))
        rows = conn.execute(
            f"""SELECT p.id, p.start, p.end, p.sentences, substr(a.text, p.start + 1, p.end - p.start),
                       a.id, a.title, a.source, a.url, a.published, a.path
                FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id IN ({marks})""",
            pids,
        )
        out = {}
        for pid, start, end, sentences, quote, aid, title, source, url, published, path in rows:
            spans = json.loads(sentences)
            out[pid] = {
                "start": start,
                "end": end,
                "quote": quote,
                "sentence_texts": [quote[s - start : e - start] for s, e in spans],
                "article": ArticleInfo(aid, title, source, url, published, path),
            }
        return out

    def _answer(self, cand: _Candidate) -> Answer:
        row = cand.row
        article: ArticleInfo = row["article"]
        link = passage_link(
            row["quote"], row["start"], row["end"], article.id, article.url, article.path, self.settings.public_url
        )
        return Answer(row["quote"], cand.highlight, cand.score, link, row["start"], row["end"], article, [], cand.pid)
