"""Links that take a reader to the quoted passage: a URL text fragment, the bot's article page, or the file."""

from __future__ import annotations

from urllib.parse import quote

EDGE_WORDS = 4


def _encode(text: str) -> str:
    """Percent-encode a text-fragment term; `-`, `,` and `&` have meaning in the syntax, so they are encoded too."""
    return quote(text, safe="").replace("-", "%2D")


def text_fragment(quote_text: str) -> str:
    """A `:~:text=` directive that matches `quote_text`: its first and last words, within their lines."""
    lines = [line.split() for line in quote_text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    words = [w for line in lines for w in line]
    if len(words) <= 2 * EDGE_WORDS and len(lines) == 1:
        return ":~:text=" + _encode(" ".join(words))
    start = " ".join(lines[0][:EDGE_WORDS])
    end = " ".join(lines[-1][-EDGE_WORDS:])
    return f":~:text={_encode(start)},{_encode(end)}"


def passage_anchor(start: int, end: int) -> str:
    """The id of a passage on the bot's article page (`/articles/<id>#p<start>-<end>`)."""
    return f"p{start}-{end}"


ANSWER_ANCHOR = "answer"  # the id the article page gives the highlighted sentence


def article_page_link(public_url: str, article_id: str, passage: tuple[int, int], highlight: tuple[int, int]) -> str:
    """The bot's article page with the passage marked and the answering sentence in view.

    The spans travel in the query (a fragment never reaches the server), the fragment scrolls to
    the sentence: `/articles/<id>?p=<start>-<end>&h=<start>-<end>#answer`.
    """
    return (
        f"{public_url}/articles/{quote(article_id, safe='')}"
        f"?p={passage[0]}-{passage[1]}&h={highlight[0]}-{highlight[1]}#{ANSWER_ANCHOR}"
    )


def passage_link(
    quote_text: str,
    start: int,
    end: int,
    article_id: str,
    url: str | None,
    path: str | None,
    public_url: str | None,
    passage: tuple[int, int] | None = None,
) -> str:
    """Where a quote links to: the article url with a text fragment, else the bot's page, else the file.

    `quote_text` is `text[start:end]`, usually the highlighted sentence; `passage`, when given, is
    the passage around it, which the article page marks too.
    """
    if url and url.lower().startswith(("http://", "https://")):  # an index from before urls were checked may hold others
        base = url.split("#", 1)[0]
        fragment = text_fragment(quote_text)
        return f"{base}#{fragment}" if fragment else base
    if public_url:
        if passage:
            return article_page_link(public_url, article_id, passage, (start, end))
        return f"{public_url}/articles/{quote(article_id, safe='')}#{passage_anchor(start, end)}"
    return path or ""
