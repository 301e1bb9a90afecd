"""The web links in a Slack message a person sent: from its mrkdwn text (`<https://…|label>`) and its rich-text
blocks (`{"type": "link", "url": …}`), http(s) only, each once, at most `MAX_LINKS` per message.

Everything in a message is untrusted: a link Slack would not show as one (`<!here>`, `<mailto:…>`, a user or
channel mention) is not a link; a URL with spaces, control characters or a user:password part is not taken.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

MAX_LINKS = 5  # per message: a pasted list of fifty links is a list, not fifty shares
MAX_URL_CHARS = 2000
TEXT_LINK = re.compile(r"<(https?://[^|>\s]+)(?:\|([^>]*))?>", re.IGNORECASE)  # mrkdwn `<url|label>`: url, label
_MAX_DEPTH = 8  # rich text nests lists in sections in blocks; deeper is not something Slack sends


def links_in(message: dict) -> list[str]:
    """The message's http(s) links, in order, each once, at most `MAX_LINKS`."""
    found: list[str] = []
    text = message.get("text")
    if isinstance(text, str):
        found += [html.unescape(m.group(1)) for m in TEXT_LINK.finditer(text[:40_000])]
    _walk(message.get("blocks"), found, 0)
    return web_links(found)


def web_links(urls: list[object]) -> list[str]:
    """Of `urls` (untrusted values), the acceptable web links, in order, each once, at most `MAX_LINKS`."""
    kept = [url for url in dict.fromkeys(u for u in urls if isinstance(u, str)) if _acceptable(url)]
    return kept[:MAX_LINKS]


def _walk(node: object, found: list[str], depth: int) -> None:
    """Collect `link` elements of rich-text blocks, however nested (to a sane depth)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, list):
        for item in node[:200]:
            _walk(item, found, depth + 1)
    elif isinstance(node, dict):
        if node.get("type") == "link" and isinstance(node.get("url"), str):
            found.append(node["url"])
        elif node.get("type") in ("rich_text", "rich_text_section", "rich_text_list", "rich_text_quote",
                                  "rich_text_preformatted"):
            _walk(node.get("elements"), found, depth + 1)


def _acceptable(url: str) -> bool:
    """An http(s) URL with a host, no credentials, no spaces or control characters, of a sane length."""
    if len(url) > MAX_URL_CHARS or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and "@" not in parts.netloc
    except ValueError:
        return False
