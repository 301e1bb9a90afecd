"""Hybrid search: dense (FAISS) and keyword (FTS5 BM25) candidates, fused, deduplicated, highlighted.

Each question reads one consistent index version: a SQLite read transaction pins the snapshot,
and the FAISS vectors of that same generation are swapped in between questions when they change.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from dataclasses import asdict, dataclass, field

import faiss
import numpy as np

from .embeddings import Embedder
from .links import passage_link
from .settings import Settings
from .store import IndexCorrupt, Store

MAX_QUESTION_CHARS = 2000
MAX_QUERY_TERMS = 32
CANDIDATES = 100
DENSE_WEIGHT = 0.5
ABSTAIN_BELOW = 0.25  # best passage's cosine similarity under which nothing is taken as an answer
DUPLICATE_OVERLAP = 0.6  # share of word 3-grams two passages must share to count as the same text

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she should
    so some such than that the their theirs them themselves then there these they this those through to
    too under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves tell know""".split()
)
_TERM = re.compile(r"\w+", re.UNICODE)


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


def query_terms(question: str) -> list[str]:
    """Distinct content words of a question, for the keyword search."""
    terms: list[str] = []
    for term in _TERM.findall(question.lower()):
        if term not in STOPWORDS and term not in terms:
            terms.append(term)
    return terms[:MAX_QUERY_TERMS]


def fts_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: any of the terms, each quoted so no word is read as an operator."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _TERM.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def _overlap(a: set, b: set) -> float:
    return len(a & b) / max(1, min(len(a), len(b)))


@dataclass
class _Candidate:
    pid: int
    dense: float = 0.0
    keyword: float = 0.0
    score: float = 0.0


class Searcher:
    """Answers questions from a `Store`; safe to share between threads."""

    def __init__(self, store: Store, embedder: Embedder, settings: Settings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._local = threading.local()
        self._swap = threading.Lock()
        self._vectors: tuple[int, faiss.Index] | None = None

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.store.connect()
        return conn

    def vectors_for(self, generation: int) -> faiss.Index:
        """The FAISS index of `generation`, loading it (once) when the index has moved on."""
        current = self._vectors
        if current is not None and current[0] == generation:
            return current[1]
        with self._swap:
            if self._vectors is None or self._vectors[0] != generation:
                self._vectors = (generation, self.store.read_vectors(generation))
            return self._vectors[1]

    def generation(self) -> int:
        """The committed index version on disk."""
        return Store.generation(self._conn())

    def search(self, question: str, k: int = 3, offset: int = 0) -> SearchResult:
        """The top `k` answers after the first `offset` (for "more results"), or an abstention."""
        question = clean_question(question)
        query = self.embedder.encode_query(question)
        conn = self._conn()
        for attempt in range(3):
            conn.execute("BEGIN")
            try:
                generation = Store.generation(conn)
                if generation == 0:
                    return SearchResult(question, True, [], 0)
                try:
                    vectors = self.vectors_for(generation)
                except IndexCorrupt:
                    if attempt == 2:
                        raise
                    continue  # a newer version replaced that file meanwhile: read again
                return self._search(conn, vectors, question, query, k, offset)
            finally:
                conn.execute("COMMIT")
        raise AssertionError("unreachable")

    def _search(
        self, conn: sqlite3.Connection, vectors: faiss.Index, question: str, query: np.ndarray, k: int, offset: int
    ) -> SearchResult:
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        candidates = self._candidates(conn, vectors, question, query)
        ranked = sorted(candidates.values(), key=lambda c: c.score, reverse=True)
        if not ranked or max(c.dense for c in ranked) < ABSTAIN_BELOW:
            return SearchResult(question, True, [], articles)
        answers = self._answers(conn, ranked, query, k + offset)
        return SearchResult(question, not answers, answers[offset:], articles)

    def _candidates(
        self, conn: sqlite3.Connection, vectors: faiss.Index, question: str, query: np.ndarray
    ) -> dict[int, _Candidate]:
        """Dense and keyword candidates, each scored by both signals, fused into one score."""
        candidates: dict[int, _Candidate] = {}
        if vectors.ntotal:
            scores, ids = vectors.search(query.reshape(1, -1), min(CANDIDATES, vectors.ntotal))
            for pid, score in zip(ids[0].tolist(), scores[0].tolist()):
                if pid >= 0:
                    candidates[pid] = _Candidate(pid, dense=score)
        terms = query_terms(question)
        if terms:
            match = fts_query(terms)
            rows = conn.execute(
                "SELECT rowid, -bm25(passages_fts, 2.0, 1.0) AS s FROM passages_fts "
                "WHERE passages_fts MATCH ? ORDER BY s DESC LIMIT ?",
                (match, CANDIDATES),
            ).fetchall()
            dense_only = [pid for pid in candidates]
            for pid, score in rows:
                cand = candidates.get(pid)
                if cand is None:
                    cand = candidates[pid] = _Candidate(pid, dense=float(vectors.reconstruct(pid) @ query))
                cand.keyword = score
            keyword_seen = {pid for pid, _ in rows}
            missing = [pid for pid in dense_only if pid not in keyword_seen]
            if missing:
                marks = ",".join("?" * len(missing))
                for pid, score in conn.execute(
                    f"SELECT rowid, -bm25(passages_fts, 2.0, 1.0) FROM passages_fts "
                    f"WHERE passages_fts MATCH ? AND rowid IN ({marks})",
                    (match, *missing),
                ):
                    candidates[pid].keyword = score
        if not candidates:
            return candidates
        top_keyword = max(c.keyword for c in candidates.values()) or 1.0
        dense_values = [c.dense for c in candidates.values()]
        low, high = min(dense_values), max(dense_values)
        spread = (high - low) or 1.0
        for cand in candidates.values():
            cand.score = DENSE_WEIGHT * (cand.dense - low) / spread + (1 - DENSE_WEIGHT) * cand.keyword / top_keyword
        return candidates

    def _answers(self, conn: sqlite3.Connection, ranked: list[_Candidate], query: np.ndarray, n: int) -> list[Answer]:
        """Walk the ranking, folding near-identical passages into one answer, until `n` answers."""
        answers: list[Answer] = []
        shingles: list[set] = []
        for start in range(0, len(ranked), 20):
            batch = ranked[start : start + 20]
            rows = self._passage_rows(conn, [c.pid for c in batch])
            for cand in batch:
                row = rows.get(cand.pid)
                if row is None:
                    continue
                answer = self._answer(row, cand.score)
                grams = _shingles(answer.quote)
                duplicate = next(
                    (i for i, seen in enumerate(shingles) if _overlap(grams, seen) >= DUPLICATE_OVERLAP), None
                )
                if duplicate is not None:
                    kept = answers[duplicate]
                    if answer.article.id != kept.article.id and all(
                        answer.article.id != other.id for other in kept.also_in
                    ):
                        kept.also_in.append(answer.article)
                    continue
                if len(answers) == n:
                    continue  # keep scanning this batch only to fold duplicates into kept answers
                answers.append(answer)
                shingles.append(grams)
                answer_sentences = row["sentences"]
                answer.highlight = self._highlight(answer, answer_sentences, query)
            if len(answers) == n:
                break
        return answers

    def _passage_rows(self, conn: sqlite3.Connection, pids: list[int]) -> dict[int, dict]:
        marks = ",".join("?" * len(pids))
        rows = conn.execute(
            f"""SELECT p.id, p.start, p.end, p.sentences, substr(a.text, p.start + 1, p.end - p.start),
                       a.id, a.title, a.source, a.url, a.published, a.path
                FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id IN ({marks})""",
            pids,
        )
        out = {}
        for pid, start, end, sentences, quote, aid, title, source, url, published, path in rows:
            out[pid] = {
                "start": start,
                "end": end,
                "sentences": json.loads(sentences),
                "quote": quote,
                "article": ArticleInfo(aid, title, source, url, published, path),
            }
        return out

    def _answer(self, row: dict, score: float) -> Answer:
        article: ArticleInfo = row["article"]
        link = passage_link(
            row["quote"], row["start"], row["end"], article.id, article.url, article.path, self.settings.public_url
        )
        return Answer(row["quote"], "", score, link, row["start"], row["end"], article)

    def _highlight(self, answer: Answer, sentences: list[list[int]], query: np.ndarray) -> str:
        """The passage's sentence closest in meaning to the question (verbatim)."""
        texts = [answer.quote[s - answer.start : e - answer.start] for s, e in sentences]
        texts = [t for t in texts if t.strip()]
        if len(texts) <= 1:
            return texts[0] if texts else answer.quote
        vectors = self.embedder.encode(texts)
        return texts[int(np.argmax(vectors @ query))]
