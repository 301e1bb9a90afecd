"""What a search returns: verbatim answers with their article, or an abstention, and the evidence behind it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from index.quotes.excerpts import Excerpt


@dataclass(frozen=True)
class Floors:
    """Below all of these a question is abstained on (calibrated on labelled sets, docs/benchmarks.md).

    Close meaning in a passage or in one sentence answers; so do most of the question's rare words
    in one sentence, when the corpus knows most of the question's words. The sentence floor rises
    with the number of sentences indexed: the more there are, the closer the nearest one to any
    question, on-topic or not (two articles: off-topic questions stay under 0.2; 400k sentences of
    news: up to 0.5).
    """

    passage: float = 0.40  # best passage cosine
    sentence: float = 0.25  # best sentence cosine with SENTENCE_BASE sentences indexed ...
    sentence_per_decade: float = 0.08  # ... plus this per tenfold more sentences
    lexical: float = 0.8  # best sentence's share of the known rare-word weight
    known: float = 0.5  # share of the question's rare-word weight the corpus knows
    # The reader's best logit, for a passage or one sentence, under which nothing it read answers: a veto over
    # the floors above. Off-topic questions read -2.1 to -11.3; answerable seed questions -1.1 and up; the four
    # RealTimeQA 2022 questions under it have no hit in their top 10 (docs/benchmarks.md, "Abstention").
    reading: float = -2.0
    # The same for a follow-up in a thread, read as asked: "why were they kicked out?" leaves out what it refers
    # to and read as low as -5.6 on the 24 follow-up pairs (all answered), while off-topic questions asked in a
    # thread read -8.5 and lower (docs/benchmarks.md, "Follow-up questions in threads").
    follow_up_reading: float = -7.0

    def sentence_floor(self, sentences: int) -> float:
        """The sentence cosine that answers with `sentences` indexed."""
        return self.sentence + self.sentence_per_decade * max(0.0, math.log10(max(sentences, 1) / SENTENCE_BASE))


SENTENCE_BASE = 60  # sentences in the two seed articles, where the sentence floor was first set
DEFAULT_FLOORS = Floors()


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
    """One verbatim quote: `quote == article_text[start:end]`; `highlight` is a sentence inside it.

    `highlight == article_text[highlight_start:highlight_end]`; `excerpt` (same rule) is what a reply
    shows: the highlight and the neighbouring sentences that fit in about 70 words.
    """

    quote: str
    highlight: str
    score: float
    link: str
    start: int
    end: int
    article: ArticleInfo
    also_in: list[ArticleInfo] = field(default_factory=list)
    passage_id: int = 0
    highlight_start: int = 0
    highlight_end: int = 0
    excerpt: Excerpt | None = None
    evidence: Evidence | None = None  # this answer's own signals (its passage, best sentence, rare words)


@dataclass(frozen=True)
class Evidence:
    """The strongest signs that the index answers a question, measured on the best candidates."""

    passage: float  # best passage cosine
    sentence: float  # best sentence cosine
    lexical: float  # best sentence's share of the question's rare-word weight, words the corpus knows
    known: float  # share of the question's rare-word weight the corpus knows at all
    indexed_sentences: int = 0  # how many sentences the index holds (the sentence floor depends on it)
    reading: float | None = None  # the reader's best logit for a read passage (None: the reader did not read)
    sentence_reading: float | None = None  # its best logit for one sentence of the passages whose sentences it read
    follow_up: bool = False  # the question was asked in a thread, after earlier questions

    @property
    def best_reading(self) -> float | None:
        """The reader's best logit, for a passage or one sentence (None: it did not read)."""
        if self.reading is None:
            return self.sentence_reading
        return self.reading if self.sentence_reading is None else max(self.reading, self.sentence_reading)

    def answerable(self, floors: Floors = DEFAULT_FLOORS) -> bool:
        """True when some evidence reaches its floor, and the reader (when it read) found something that answers."""
        best = self.best_reading
        if best is not None and best < (floors.follow_up_reading if self.follow_up else floors.reading):
            return False
        if self.passage >= floors.passage or self.sentence >= floors.sentence_floor(self.indexed_sentences):
            return True
        return self.lexical >= floors.lexical and self.known >= floors.known


@dataclass
class SearchResult:
    """The answers to one question, or an honest abstention."""

    question: str
    abstained: bool
    answers: list[Answer]
    articles: int = 0
    evidence: Evidence | None = None  # what the abstention decision saw
    reading: str = ""  # how filters in the question were read: "Searched 312 of 4,884 articles, from Reuters"

    def to_json(self) -> dict:
        """The `newsbot ask --json` shape."""
        return {
            "question": self.question,
            "abstained": self.abstained,
            "reading": self.reading,
            "answers": [
                {
                    "quote": a.quote,
                    "highlight": a.highlight,
                    "score": round(a.score, 4),
                    "link": a.link,
                    "start": a.start,
                    "end": a.end,
                    "highlight_start": a.highlight_start,
                    "highlight_end": a.highlight_end,
                    "excerpt": a.excerpt.text if a.excerpt else a.quote,
                    "excerpt_start": a.excerpt.start if a.excerpt else a.start,
                    "excerpt_end": a.excerpt.end if a.excerpt else a.end,
                    "article": asdict(a.article),
                    "also_in": [asdict(x) for x in a.also_in],
                }
                for a in self.answers
            ],
        }
