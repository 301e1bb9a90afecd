"""The compact excerpt an answer shows: the answering sentence and as many neighbours as fit.

Slack readers see the bold sentence and little else, so the shown text stays near `EXCERPT_WORDS`;
the whole passage remains one click away (the link). Offsets are the article text's, so the
excerpt is verbatim: `article_text[start:end]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXCERPT_WORDS = 70
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Excerpt:
    """`text == article_text[start:end]`; `cut_before`/`cut_after` say whether passage text was left out."""

    text: str
    start: int
    end: int
    cut_before: bool
    cut_after: bool


def excerpt(
    article_text: str, spans: list[tuple[int, int]], highlight: int, limit: int = EXCERPT_WORDS
) -> Excerpt:
    """The highlighted sentence `spans[highlight]` widened by whole neighbouring sentences while under `limit` words.

    The sentence after the highlight is preferred first (news sentences explain what comes before),
    then they alternate; the highlight itself is never cut, however long.
    """
    words = [len(_WORD.findall(article_text, s, e)) for s, e in spans]
    first = last = highlight
    total = words[highlight]
    grew = True
    while grew:
        grew = False
        for side in ("after", "before"):
            candidate = last + 1 if side == "after" else first - 1
            if 0 <= candidate < len(spans) and total + words[candidate] <= limit:
                total += words[candidate]
                first, last = min(first, candidate), max(last, candidate)
                grew = True
    start, end = spans[first][0], spans[last][1]
    return Excerpt(article_text[start:end], start, end, first > 0, last < len(spans) - 1)
