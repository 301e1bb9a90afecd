"""Keyword side of search: tokens for BM25, query terms, quoted phrases, and the stems and names of sentences.

Words are folded and stemmed with the same Porter algorithm as the FTS5 tokenizer, so BM25, the
sentence scores and FTS5 all agree on what a word is.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata

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


# Combining diacritical marks (the blocks unicode61's remove_diacritics strips from Latin letters).
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _fold(text: str) -> str:
    """Lower-case and strip diacritics, as the FTS5 `unicode61 remove_diacritics 2` tokenizer does."""
    if text.isascii():  # the common case, and far cheaper than Unicode decomposition
        return text.lower()
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text.lower()))


_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”')


def quoted_phrases(question: str) -> list[str]:
    """The phrases a question puts in double quotes ("…" or “…”), which its answers should contain."""
    phrases = (a or b for a, b in _QUOTED.findall(question))
    return [p for p in (" ".join(_WORD.findall(phrase)) for phrase in phrases) if p]


def phrase_query(phrases: list[str], column: str) -> str:
    """An FTS5 MATCH expression requiring every phrase in `column` (word order kept, words stemmed as indexed)."""
    return " AND ".join(f'{column} : "' + phrase.replace('"', '""') + '"' for phrase in phrases)


def query_terms(question: str) -> list[str]:
    """Distinct content words of a question (folded, unstemmed), in order."""
    terms: list[str] = []
    for term in _WORD.findall(_fold(question)):
        if term not in STOPWORDS and term not in terms:
            terms.append(term)
    return terms[:MAX_QUERY_TERMS]


_STEMS: dict[str, str] = {}  # folded word -> Porter stem
MAX_CACHED_STEMS = 500_000  # a long-running bot meets ever new words: start over past this


def stem(word: str) -> str:
    """The Porter stem of a folded word."""
    found = _STEMS.get(word)
    if found is None:
        if len(_STEMS) >= MAX_CACHED_STEMS:
            _STEMS.clear()
        found = _STEMS[word] = _stemmer.stemWord(word)
    return found


def tokens(text: str) -> list[str]:
    """The stems of the content words of `text`, in order: what BM25 indexes and queries."""
    return [stem(w) for w in _WORD.findall(_fold(text)) if w not in STOPWORDS]


# The title counts twice: a question's names are most telling in the headline (FTS5 used the same
# column weight; 1 or 3 measured within +-0.01 on RealTimeQA 2022).
TITLE_REPEAT = 2


def document_tokens(title: str, body: str) -> list[str]:
    """What BM25 sees of a passage, in either engine: the title's stems `TITLE_REPEAT` times, then the passage's."""
    return tokens(title) * TITLE_REPEAT + tokens(body)


SENTENCES_CACHED = 65536  # sentences whose stems and names are kept when their passage has none stored


def clear_caches() -> None:
    """Forget the cached sentences (benchmarks time each configuration from the same cold start)."""
    sentence_stems.cache_clear()
    sentence_names.cache_clear()


@functools.lru_cache(maxsize=SENTENCES_CACHED)
def sentence_stems(text: str) -> tuple[str, ...]:
    """The stems of every word of `text`, stop words included, in order (cached for the passages of an index
    written before their words were stored, `sentence_words`, which rescoring reads again and again).

    The stems are the shared strings of the stem table, so a cached sentence costs a tuple of pointers
    (no per-word strings, no interning, no set per sentence: a full cache is 18 MB instead of 114).
    """
    found = _WORD.findall(_fold(text))
    try:  # every word seen before (the usual case once a corpus has been read): one C-level pass
        return tuple(map(_STEMS.__getitem__, found))
    except KeyError:
        return tuple(map(stem, found))


def idf(frequency: int, documents: int) -> float:
    """BM25's inverse document frequency of a term found in `frequency` of `documents` passages."""
    return math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))


_TOKEN = re.compile(r"\w[\w.'’-]*\w|\w", re.UNICODE)


def question_words(question: str) -> frozenset[str]:
    """The folded words of a question, for telling which names and numbers in a sentence are new."""
    return frozenset(_WORD.findall(_fold(question)))


@functools.lru_cache(maxsize=SENTENCES_CACHED)
def sentence_names(sentence: str) -> tuple[tuple[str, ...], ...]:
    """The folded words (stop words left out) of each capitalised token after the first and each token with
    digits: the names and numbers a sentence holds (cached like `sentence_stems`)."""
    found = []
    for i, token in enumerate(_TOKEN.findall(sentence)):
        # Most tokens are plain words: `isalpha` rules out digits without looking at each character.
        if not ((i > 0 and token[0].isupper()) or (not token.isalpha() and any(ch.isdigit() for ch in token))):
            continue
        if token.isascii() and token.isalnum():  # one plain word: no folding or splitting to do
            parts = (token.lower(),) if token.lower() not in STOPWORDS else ()
        else:
            parts = tuple(part for part in _WORD.findall(_fold(token)) if part not in STOPWORDS)
        if parts:
            found.append(parts)
    return tuple(found)
