"""The `/articles/<id>` page: a stored article as escaped HTML, each passage addressable and the linked one highlighted.

It is the link target of quotes from articles without a url (`$NEWSBOT_PUBLIC_URL/articles/<id>#p<start>-<end>`).
"""

from __future__ import annotations

from html import escape

from index import StoredArticle
from index.links import passage_anchor

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
.passage:target {{ background: #fff1a8; box-shadow: 0 0 0 3px #fff1a8; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="meta">{meta}</p>
<div class="text">{body}</div>
</body>
</html>
"""


def _marked_text(article: StoredArticle) -> str:
    """The escaped text with every passage in a `<span id="p<start>-<end>">`."""
    text, parts, position = article.text, [], 0
    for start, end in sorted(article.passages):
        if start < position:
            continue  # overlapping spans cannot nest; the earlier passage keeps its anchor
        parts.append(escape(text[position:start]))
        parts.append(f'<span class="passage" id="{passage_anchor(start, end)}">{escape(text[start:end])}</span>')
        position = end
    parts.append(escape(text[position:]))
    return "".join(parts)


def render_article(article: StoredArticle) -> str:
    """The whole page; every piece of article data is HTML-escaped."""
    info = article.info
    meta = [escape(value) for value in (info.source, info.published) if value]
    if info.url and info.url.startswith(("http://", "https://")):
        meta.append(f'<a href="{escape(info.url)}" rel="noopener noreferrer nofollow">original article</a>')
    return PAGE.format(title=escape(info.title), meta=" · ".join(meta), body=_marked_text(article))
