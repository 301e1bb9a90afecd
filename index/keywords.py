"""Keyword side of search: query terms, the FTS5 query, and IDF-weighted sentence matching.

Terms are stemmed with the same Porter algorithm as the FTS5 tokenizer, so the sentence scores
agree with what BM25 matched.
"""

from __future__ import annotations

import math
import re
import sqlite3
import unicodedata
from functools import lru_cache

import Stemmer

MAX_QUERY_TERMS = 32

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she should
    so some such than that the their theirs them themselves then there these they this those through to
    too under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves tell know""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)
_stemmer = Stemmer.Stemmer("porter")


def _fold(text: str) -> str:
    """Lower-case and strip diacritics, as the FTS5 `unicode61 remove_diacritics 2` tokenizer does."""
    if text.isascii():  # the common case, and far cheaper than Unicode decomposition
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def query_terms(question: str) -> list[str]:
    """Distinct content words of a question (unstemmed), in order, for the FTS5 query."""
    terms: list[str] = []
    for term in _WORD.findall(_fold(question)):
        if term not in STOPWORDS and term not in terms:
            terms.append(term)
    return terms[:MAX_QUERY_TERMS]


def fts_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: any of the terms, each quoted so no word is read as an operator."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Porter stem of a folded word."""
    return _stemmer.stemWord(word)


def stems(text: str) -> set[str]:
    """The set of stems of every word in `text`."""
    return {stem(w) for w in _WORD.findall(_fold(text))}


VOCAB_TABLE = "temp.passages_vocab"


def attach_vocabulary(conn: sqlite3.Connection) -> None:
    """Give a connection a (storage-free, per-connection) view of the FTS5 term statistics."""
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {VOCAB_TABLE} USING fts5vocab(main, 'passages_fts', 'row')")


def document_frequencies(conn: sqlite3.Connection, stems: set[str]) -> dict[str, int]:
    """How many passages contain each stem (a connection with `attach_vocabulary`)."""
    if not stems:
        return {}
    marks = ",".join("?" * len(stems))
    found = dict(conn.execute(f"SELECT term, doc FROM {VOCAB_TABLE} WHERE term IN ({marks})", tuple(stems)))
    return {s: int(found.get(s, 0)) for s in stems}


def idf(frequency: int, documents: int) -> float:
    """BM25's inverse document frequency of a term found in `frequency` of `documents` passages."""
    return math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))


def selective_terms(terms: list[str], frequencies: dict[str, int], documents: int, max_share: float) -> list[str]:
    """The terms found in at most `max_share` of the passages (else the two rarest).

    A term in a large share of the passages barely moves BM25, yet makes FTS5 score every
    passage holding it; leaving it out of the MATCH keeps keyword search fast on a big corpus.
    """
    kept = [t for t in terms if frequencies.get(stem(t), 0) <= max_share * documents]
    return kept or sorted(terms, key=lambda t: frequencies.get(stem(t), 0))[:2]


def sentence_match(sentence: str, weights: dict[str, float]) -> float:
    """Share of the question's IDF mass that one sentence contains (0..1)."""
    total = sum(weights.values())
    if not total:
        return 0.0
    present = stems(sentence)
    return sum(w for s, w in weights.items() if s in present) / total
