"""Turn the ranked candidates into answers: near-identical passages folded into one ("also reported
by"), each with its highlight, compact excerpt and link."""

from __future__ import annotations

from index.answering.candidates import Candidate
from index.quotes.excerpts import Excerpt, excerpt
from index.quotes.links import passage_link
from index.quotes.results import Answer, ArticleInfo
from index.text.keywords import sentence_stems
from index.text.sentence_words import passage_stems

DUPLICATE_OVERLAP = 0.6  # share of word 3-grams two passages must share to count as the same text


def _shingles(row: dict) -> set[tuple[str, ...]]:
    """The 3-grams of a passage's words, from its sentences' stored stems.

    Words are compared as stems (folded: case and accents), so a copy that drops the accents ("Beyonce",
    "cafe") is the same text.
    """
    found = passage_stems(row["sentence_words"]) if row["sentence_words"] else list(sentence_stems(row["quote"]))
    return set(zip(found, found[1:], found[2:])) if len(found) >= 3 else {tuple(found)}


def _overlap(a: set, b: set) -> float:
    return len(a & b) / max(1, min(len(a), len(b)))


def fold(ranked: list[Candidate], n: int, public_url: str | None) -> list[Answer]:
    """Walk the ranking, folding near-identical passages into one answer, until `n` answers."""
    answers: list[Answer] = []
    shingles: list[set] = []
    for cand in ranked:
        if cand.row is None:
            continue  # beyond the rescored head (only reached when most of it were duplicates)
        grams = _shingles(cand.row)
        duplicate = next((i for i, seen in enumerate(shingles) if _overlap(grams, seen) >= DUPLICATE_OVERLAP), None)
        if duplicate is not None:
            kept, article = answers[duplicate], cand.row["article"]
            if article.id != kept.article.id and all(article.id != o.id for o in kept.also_in):
                kept.also_in.append(article)
            continue
        if len(answers) < n:
            answers.append(to_answer(cand, public_url))
            shingles.append(grams)
    return answers


def to_answer(cand: Candidate, public_url: str | None) -> Answer:
    """One rescored candidate as an answer: quote, highlight and excerpt offsets in the article, and a link."""
    row = cand.row
    article: ArticleInfo = row["article"]
    start, end = row["start"], row["end"]
    highlight_start, highlight_end = cand.highlight_span
    if not start <= highlight_start < highlight_end <= end:  # no sentence scored: the passage is the highlight
        highlight_start, highlight_end = start, end
    highlight = row["quote"][highlight_start - start : highlight_end - start]
    link = passage_link(
        highlight, highlight_start, highlight_end, article.id, article.url, article.path, public_url, passage=(start, end)
    )
    if cand.highlight_index >= 0:
        # The spans are article offsets and the quote starts at `start`: shift them into the quote.
        spans = [(s - start, e - start) for s, e in row["sentence_spans"]]
        local = excerpt(row["quote"], spans, cand.highlight_index)
        shown = Excerpt(local.text, local.start + start, local.end + start, local.cut_before, local.cut_after)
    else:
        shown = Excerpt(row["quote"], start, end, False, False)
    return Answer(
        row["quote"], highlight, cand.score, link, start, end, article, [], cand.pid, highlight_start, highlight_end, shown
    )
