"""How a question is read before it is searched: its own words and filters, a channel's scope, and
the earlier questions of its Slack thread, whose words count below the new question's.

"and what did Russia say?" after "why did NATO expel the diplomats?" means Russia's reaction to that
expulsion: the earlier question's rare words join the keyword search at `CONTEXT_WEIGHT` of their
own weight, and its meaning is blended into the question vector at the same share. No text is
generated; the answer's grey line says which earlier question was used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from index.questions.filters import FilterError, Filters
from index.questions.filters import parse as parse_filters
from index.reading import sanitize

CONTEXT_WEIGHT = 0.35  # an earlier question's words and meaning, relative to the new question's
MAX_EARLIER = 2  # the most recent earlier questions read with a follow-up
MAX_SHOWN_CHARS = 80  # of an earlier question, in the grey line
MAX_QUESTION_CHARS = 2000


class EmptyQuestion(ValueError):
    """The question has no text."""


def clean_question(question: str) -> str:
    """Collapse whitespace and drop what no engine can store (NUL, lone surrogates); `EmptyQuestion` for a blank one."""
    text = " ".join(sanitize(question).split())
    if not text:
        raise EmptyQuestion("the question is empty")
    return text


def within(text: str, limit: int = MAX_QUESTION_CHARS) -> str:
    """`text` cut to at most `limit` characters at a space, never inside a word or a quoted phrase (a filter such as
    `source:"AP News"` stays whole or goes whole); `text` itself when it fits."""
    if len(text) <= limit:
        return text
    if " " not in text[: limit + 1]:
        return text[:limit]  # one word longer than the limit: nothing whole fits
    cut = text[: limit + 1].rsplit(" ", 1)[0]
    while cut.count('"') % 2:  # a quote opened and not closed: drop back to before the word that opened it
        opened = cut[: cut.rfind('"')]
        cut = opened.rsplit(" ", 1)[0] if " " in opened else ""
    return cut


@dataclass(frozen=True)
class Context:
    """What a question is asked within: earlier questions of its thread (oldest first), a channel's scope."""

    earlier: tuple[str, ...] = ()
    scope: str = ""  # default filters as written, e.g. "source:reuters site:apnews.com"
    weight: float = CONTEXT_WEIGHT  # of the earlier questions' words and meaning (benchmarks vary it)
    articles: frozenset[str] | None = None  # only these articles (a follow's newly arrived ones)

    def __bool__(self) -> bool:
        return bool(self.earlier or self.scope or self.articles is not None)


NO_CONTEXT = Context()


@dataclass(frozen=True)
class ReadQuestion:
    """A question as the search uses it."""

    text: str  # the new question without its filters: what is searched first of all
    filters: Filters  # its own filters, or those of the latest earlier question that had some
    scope: Filters = field(default_factory=Filters)  # the channel's, applied together with `filters`
    earlier: str = ""  # the earlier questions' words (filters taken out), joined
    earlier_shown: tuple[str, ...] = ()  # the earlier questions as asked, for the grey line
    weight: float = CONTEXT_WEIGHT  # of `earlier`, relative to `text`
    articles: frozenset[str] | None = None  # only these articles, when given

    @property
    def all_text(self) -> str:
        """Every word read: for time words ("this week") and for what counts as already named."""
        return f"{self.earlier} {self.text}".strip()

    def describe(self) -> str:
        """The filters in words, the scope's marked: 'from Reuters (this channel's scope) published after …'."""
        parts = [self.filters.describe()]
        if self.scope:
            parts.append(f"{self.scope.describe()} (this channel's scope)")
        return " ".join(p for p in parts if p)

    def context_note(self) -> str:
        """The grey line's words on the thread context used, or '' when there was none."""
        if not self.earlier_shown:
            return ""
        shown = " · ".join(f"“{_shorten(q)}”" for q in self.earlier_shown)
        noun = "question" if len(self.earlier_shown) == 1 else "questions"
        return f"Read with this thread's earlier {noun} {shown}"


def read_question(question: str, context: Context = NO_CONTEXT) -> ReadQuestion:
    """Split `question` into words and filters and attach its context; `FilterError` for a malformed filter.

    A filter of an earlier question carries over to a follow-up that names none of its own, as a
    reader would assume ("… source:reuters", then "and what did Russia say?").
    """
    text, filters = parse_filters(question)
    scope = read_scope(context.scope)
    earlier = [within(q) for q in (" ".join(e.split()) for e in context.earlier) if q][-MAX_EARLIER:]  # each cut as a question
    words: list[str] = []
    carried = Filters()
    for asked in earlier:
        try:
            asked_text, asked_filters = parse_filters(asked)
        except FilterError:  # an earlier question's own mistake was answered then; its words still help
            asked_text, asked_filters = asked, Filters()
        words.append(asked_text)
        if asked_filters:
            carried = asked_filters
    if not filters.given and carried:
        filters = carried
    words = [w for w in words if w]
    if not text and words:  # only filters in the thread ("source:bbc"): the last question again, so narrowed
        text = words.pop()
    return ReadQuestion(text, filters, scope, " ".join(words), tuple(earlier), context.weight, context.articles)


def read_scope(scope: str) -> Filters:
    """A channel scope's filters; `FilterError` when it holds anything but filters."""
    words, filters = parse_filters(scope)
    if words:
        raise FilterError(f"a scope holds only filters (source: site: after: before: on: during:), not “{_shorten(words)}”")
    return filters


def blend(question: np.ndarray, earlier: np.ndarray, weight: float) -> np.ndarray:
    """The question's vector moved toward the earlier questions' by `weight`, unit length again."""
    mixed = question + weight * earlier
    norm = float(np.linalg.norm(mixed))
    return (mixed / norm if norm else question).astype(np.float32)


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1].rstrip() + "…"
