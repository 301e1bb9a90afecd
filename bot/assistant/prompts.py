"""What the assistant pane says and suggests: a one-line greeting, prompts drawn from the day's biggest stories
(the newest arrivals grouped into stories, `index.stories`), and "What's new?" answered with those stories.

Titles come from articles, so they are untrusted: a prompt carries plain words only (no Slack markup), cut short.
"""

from __future__ import annotations

import re

from bot.digests.blocks import story_blocks
from bot.slack.blocks import escape, section, shorten, text_message
from index import FilterError, Index, Story
from index.questions import read_scope

RECENT_ARRIVALS = 2000  # the newest articles grouped: about a day of a newsroom following 50 feeds
PROMPT_STORIES = 3  # Slack shows up to four prompts: these and "What's new"
NEWS_STORIES = 5  # stories listed for "What's new?"
PROMPT_TITLE_CHARS = 60
PROMPT_MESSAGE_CHARS = 200
WHATS_NEW = "What's new since yesterday?"
_WHATS_NEW = re.compile(r"^\s*what(['’]s| is) new( (since yesterday|today|this morning))?\s*\??\s*$", re.I)
_MARKUP = re.compile(r"[<>&*_~`|]")


def plain(title: str) -> str:
    """A title as plain words: no Slack markup or control characters, spaces collapsed."""
    return " ".join(_MARKUP.sub(" ", "".join(c for c in title if c.isprintable())).split())


def recent_stories(index: Index, scope: str, limit: int) -> list[Story]:
    """The biggest stories among the newest arrivals (within the channel's `scope`, if it reads)."""
    if not index.exists():
        return []
    last = index.last_arrival()
    ids = [article for _, article in index.arrivals(after=max(0, last - RECENT_ARRIVALS), limit=RECENT_ARRIVALS)]
    try:
        filters = read_scope(scope) if scope else None
    except FilterError:
        filters = None
    return index.stories(ids, limit, filters or None)


def suggested_prompts(stories: list[Story]) -> list[dict[str, str]]:
    """"What happened with …?" for each story, then "What's new since yesterday?"."""
    prompts = []
    for story in stories[:PROMPT_STORIES]:
        title = plain(story.lead.title)
        if title:
            prompts.append({
                "title": shorten(f"What happened with {title}", PROMPT_TITLE_CHARS - 1) + "?",
                "message": shorten(f"What happened with {title}", PROMPT_MESSAGE_CHARS - 1) + "?",
            })
    return prompts + [{"title": WHATS_NEW, "message": WHATS_NEW}]


def greeting(articles: int | None, channel: str | None, scope: str) -> str:
    """The pane's one line when a thread starts."""
    knows = f" from {articles:,} articles" if articles else ""
    where = ""
    if channel and scope:
        where = f" Beside <#{escape(channel)}> I search within its scope, `{escape(shorten(scope, 200))}`."
    return f"Hi! Ask me about the news: I answer with verbatim quotes{knows}, each linked to its source.{where}"


def is_whats_new(question: str) -> bool:
    """"What's new?", "What's new since yesterday?" and the like."""
    return bool(_WHATS_NEW.match(question))


def whats_new_message(stories: list[Story]) -> dict:
    """The day's biggest stories, each quoted by its lead sentence with its sources."""
    if not stories:
        return text_message("Nothing new has been indexed yet.")
    noun = "story" if len(stories) == 1 else "stories"
    head = f":newspaper: *The {len(stories)} biggest {noun} among the newest articles*"
    return {"text": f"The {len(stories)} biggest {noun} among the newest articles",
            "blocks": [section(head), *story_blocks(stories)]}
