"""The `/articles/<id>` page: a stored article as escaped HTML, each passage addressable, the quoted
passage marked and its answering sentence marked more strongly, in view on arrival.

It is the link target of quotes from articles without a url:
`$NEWSBOT_PUBLIC_URL/articles/<id>?p=<start>-<end>&h=<start>-<end>#answer` (spans in the query, since
a fragment never reaches the server; `#answer` scrolls to the sentence). Older `#p<start>-<end>` links
still land on their passage.
"""

from __future__ import annotations

import re
from html import escape

from index import ANSWER_ANCHOR, StoredArticle, passage_anchor
from intake.fetch import linkable

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 17px/1.6 Georgia, serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
h1 {{ font: 600 1.6rem/1.3 system-ui, sans-serif; }}
.meta {{ color: #666; font: .9rem system-ui, sans-serif; }}
.text {{ white-space: pre-wrap; }}
.passage {{ scroll-margin-top: 30vh; border-radius: 3px; }}
.passage:target, .passage.quoted {{ background: #fff6c7; box-shadow: 0 0 0 3px #fff6c7; }}
mark {{ background: #ffd84d; color: inherit; font-weight: 600; scroll-margin-top: 30vh; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="meta">{meta}</p>
<div class="text">{body}</div>
</body>
</html>
"""


_SPAN = re.compile(r"(\d{1,9})-(\d{1,9})")


def parse_span(value: str | None) -> tuple[int, int] | None:
    """A `<start>-<end>` query value as offsets, or None when absent or malformed (the page then shows no mark)."""
    match = _SPAN.fullmatch(value or "")
    if not match:
        return None
    start, end = int(match.group(1)), int(match.group(2))
    return (start, end) if start < end else None


def _marked_text(article: StoredArticle, passage: tuple[int, int] | None, answer: tuple[int, int] | None) -> str:
    """The escaped text, every passage in a `<span id="p<start>-<end>">`, the quoted one marked, the answer in `<mark>`."""
    text, parts, position = article.text, [], 0
    if answer and not (passage and passage[0] <= answer[0] < answer[1] <= passage[1]):
        answer = None  # a sentence is only marked inside the quoted passage
    for start, end in sorted(article.passages):
        if start < position:
            continue  # overlapping spans cannot nest; the earlier passage keeps its anchor
        parts.append(escape(text[position:start]))
        quoted = passage == (start, end)
        body = escape(text[start:end])
        if quoted and answer:
            body = (
                escape(text[start : answer[0]])
                + f'<mark id="{ANSWER_ANCHOR}">{escape(text[answer[0] : answer[1]])}</mark>'
                + escape(text[answer[1] : end])
            )
        css = "passage quoted" if quoted else "passage"
        parts.append(f'<span class="{css}" id="{passage_anchor(start, end)}">{body}</span>')
        position = end
    parts.append(escape(text[position:]))
    return "".join(parts)


def render_article(
    article: StoredArticle, passage: tuple[int, int] | None = None, answer: tuple[int, int] | None = None
) -> str:
    """The whole page, with `passage` marked and `answer` (a span inside it) marked more strongly; all data HTML-escaped."""
    info = article.info
    meta = [escape(value) for value in (info.source, info.published) if value]
    if linkable(info.url):
        meta.append(f'<a href="{escape(info.url)}" rel="noopener noreferrer nofollow">original article</a>')
    body = _marked_text(article, passage, answer)
    return PAGE.format(title=escape(info.title), meta=" · ".join(meta), body=body)
