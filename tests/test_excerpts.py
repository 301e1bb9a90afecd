"""The compact excerpt: the answering sentence whole, neighbours added while they fit, offsets verbatim."""

from __future__ import annotations

from index.indexing.passages import sentence_spans
from index.quotes.excerpts import excerpt


def _sentences(words_each: list[int]) -> tuple[str, list[tuple[int, int]]]:
    text = " ".join("The " + " ".join(["word"] * (n - 2)) + " ends." for n in words_each)
    spans = sentence_spans(text)
    assert [len(text[s:e].split()) for s, e in spans] == words_each
    return text, spans


def test_neighbours_are_added_after_then_before_while_under_the_limit():
    text, spans = _sentences([30, 30, 20, 30, 30])
    shown = excerpt(text, spans, 2, limit=70)
    assert shown.text == text[shown.start : shown.end]
    assert (shown.start, shown.end) == (spans[2][0], spans[3][1])  # 20 + 30 after; 30 more before would pass 70
    assert shown.cut_before and shown.cut_after


def test_the_highlight_is_never_cut_even_when_longer_than_the_limit():
    text, spans = _sentences([10, 120, 10])
    shown = excerpt(text, spans, 1, limit=70)
    assert (shown.start, shown.end) == spans[1] and shown.cut_before and shown.cut_after


def test_a_short_passage_is_shown_whole():
    text, spans = _sentences([10, 12, 9])
    shown = excerpt(text, spans, 0)
    assert (shown.start, shown.end) == (spans[0][0], spans[-1][1])
    assert not shown.cut_before and not shown.cut_after
