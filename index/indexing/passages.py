"""Cut article text into passages along paragraphs and sentence ends, keeping exact offsets.

A passage is `text[start:end]` of the stored article, so every quote is verbatim. Sentence
spans are kept too: the search uses them to pick the sentence to highlight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import blingfire

MIN_WORDS = 60
TARGET_WORDS = 120
MAX_WORDS = 200

_WORD = re.compile(r"\S+")
_BLOCK = re.compile(r"(?:[^\n]*\S[^\n]*(?:\n|$))+")  # consecutive non-blank lines


@dataclass(frozen=True)
class Passage:
    """A slice `[start, end)` of an article's text and its sentences' absolute spans."""

    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Sentence:
    start: int
    end: int
    words: int
    opens_paragraph: bool


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans of `text[start:end]` as absolute offsets, whitespace trimmed."""
    end = len(text) if end is None else end
    chunk = text[start:end]
    if not chunk.strip():
        return []
    # Line breaks inside a block are often just hard wrapping; the splitter sees them as spaces
    # (same length, so offsets hold) and decides sentence ends from punctuation alone.
    _, offsets = blingfire.text_to_sentences_and_offsets(chunk.replace("\r", " ").replace("\n", " "))
    spans = []
    cursor = 0
    for s, e in offsets:
        s, e = max(s, cursor), min(e, len(chunk))
        if e <= s:
            continue
        spans.append(_trimmed(text, start + s, start + e))
        cursor = e
    # blingfire may drop trailing characters it cannot classify; keep them in the last sentence.
    if spans and chunk[cursor:].strip():
        last_start, _ = spans.pop()
        spans.append(_trimmed(text, last_start, end))
    if not spans:
        spans = [_trimmed(text, start, end)]
    return [span for span in spans if span[1] > span[0]]


def _split_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut a run-on 'sentence' longer than MAX_WORDS at word boundaries (lists, tables, no punctuation)."""
    words = list(_WORD.finditer(text, start, end))
    pieces = []
    for i in range(0, len(words), MAX_WORDS):
        group = words[i : i + MAX_WORDS]
        pieces.append((group[0].start(), group[-1].end()))
    return pieces


def _sentences(text: str) -> list[_Sentence]:
    """Every sentence, flagged when it opens a paragraph: after a blank line or at the start of a line."""
    sentences: list[_Sentence] = []
    for block in _BLOCK.finditer(text):
        previous_end = None
        for s, e in sentence_spans(text, block.start(), block.end()):
            opens = previous_end is None or "\n" in text[previous_end:s]
            words = len(_WORD.findall(text, s, e))
            pieces = _split_long(text, s, e) if words > MAX_WORDS else [(s, e)]
            for ps, pe in pieces:
                sentences.append(_Sentence(ps, pe, len(_WORD.findall(text, ps, pe)), opens))
                opens = False
            previous_end = e
    return sentences


def _paragraph_words(sentences: list[_Sentence]) -> dict[int, int]:
    """Words in the paragraph that each paragraph-opening sentence starts, keyed by its position."""
    totals: dict[int, int] = {}
    opener = 0
    for i, sentence in enumerate(sentences):
        if sentence.opens_paragraph:
            opener = i
        totals[opener] = totals.get(opener, 0) + sentence.words
    return totals


def split_passages(
    text: str, min_words: int = MIN_WORDS, target_words: int = TARGET_WORDS, max_words: int = MAX_WORDS
) -> list[Passage]:
    """Group sentences into passages of about `target_words`, preferring paragraph boundaries.

    A passage closes at a paragraph boundary once it has `min_words` and the next paragraph would
    take it past `target_words`, and closes between sentences before it would exceed `max_words`.
    A short tail is merged into the passage before it when they fit together.
    """
    groups: list[list[_Sentence]] = []
    current: list[_Sentence] = []
    count = 0
    sentences = _sentences(text)
    paragraph_words = _paragraph_words(sentences)
    for i, sentence in enumerate(sentences):
        if current and sentence.opens_paragraph and count >= min_words:
            if count + paragraph_words[i] > target_words:
                groups.append(current)
                current, count = [], 0
        if current and count + sentence.words > max_words:
            groups.append(current)
            current, count = [], 0
        current.append(sentence)
        count += sentence.words
    if current:
        if groups and count < min_words and sum(s.words for s in groups[-1]) + count <= max_words:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return [
        Passage(group[0].start, group[-1].end, tuple((s.start, s.end) for s in group)) for group in groups
    ]
