"""The question a message shortcut asks ("Ask Newsbot about this"): the message's own words, each link turned
into words a search can use — its label, the title of the article it points to if that is indexed, or the words
of its address (`…/nato-expels-eight-russian-diplomats/` → "nato expels eight russian diplomats")."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from bot.links.found import TEXT_LINK
from bot.slack.questions import question_from

_SLUG_WORD = re.compile(r"[a-z]{2,}", re.IGNORECASE)
MIN_SLUG_WORDS = 3  # fewer words in an address ("/news/12345", "/a/b") say nothing about the story
MAX_LINKS_READ = 5  # titles looked up per message


def slug_words(url: str) -> str:
    """The words of the longest path segment of `url` ('' when it has fewer than `MIN_SLUG_WORDS`)."""
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:
        return ""
    best = max((segment.rsplit(".", 1)[0] for segment in path.split("/")), key=len, default="")
    words = _SLUG_WORD.findall(best.replace("_", " ").replace("-", " "))
    return " ".join(words) if len(words) >= MIN_SLUG_WORDS else ""


def question_about(text: str, bot_user_id: str | None, title_of: Callable[[str], str | None]) -> str:
    """The question in a message's mrkdwn `text`; `title_of(url)` names an indexed article (or None)."""
    looked_up = 0

    def words_for(match: re.Match[str]) -> str:
        nonlocal looked_up
        url, label = html.unescape(match.group(1)), match.group(2)
        if label and label.strip() and label.strip() != url:
            return label
        title = None
        if looked_up < MAX_LINKS_READ:
            looked_up += 1
            title = title_of(url)
        return f" {title or slug_words(url)} "

    return question_from(TEXT_LINK.sub(words_for, text or ""), bot_user_id)
