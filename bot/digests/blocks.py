"""How stories read in Slack: each lead sentence quoted verbatim, its article and every source linked. Digests
post them; the assistant pane answers "What's new?" with them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.digests.store import Digest
from bot.slack.blocks import TITLE_CHARS, context, escape, link, section, shorten
from index import Story

SOURCES_SHOWN = 5


def story_blocks(stories: list[Story]) -> list[dict]:
    """Two blocks per story: the lead sentence quoted in bold, then the lead article and the sources carrying it."""
    blocks = []
    for story in stories:
        quote = escape(" ".join(story.sentence.split()))
        blocks.append(section(f">*{quote}*" if quote else ">…"))
        lead = link(story.link, shorten(story.lead.title, TITLE_CHARS))
        by_source = {}
        for article in story.articles:  # each source linked to its own article
            by_source.setdefault(article.source or article.title, article)
        shown = [link(a.url, shorten(name, 60)) for name, a in list(by_source.items())[:SOURCES_SHOWN]]
        more = f" and {len(by_source) - SOURCES_SHOWN} more" if len(by_source) > SOURCES_SHOWN else ""
        blocks.append(context(f"{lead} · {', '.join(shown)}{more}"))
    return blocks


def digest_message(digest: Digest, stories: list[Story], new_articles: int, due: datetime) -> dict:
    """The digest: a heading, then each story's lead sentence quoted (verbatim) with its sources linked."""
    local = due.astimezone(ZoneInfo(digest.zone))
    kind = "Daily" if digest.cadence == "daily" else "Weekly"
    topic = f" on “{escape(shorten(digest.topic, 200))}”" if digest.topic else ""
    when = local.strftime("%a %-d %b %Y, %H:%M") + f" ({escape(digest.zone)})"
    if not stories:
        text = f":newspaper: {kind} digest{topic}: nothing new since the last one. — {when}"
        return {"text": text, "blocks": [section(text)]}
    noun = "story" if len(stories) == 1 else "stories"
    head = f":newspaper: *{kind} digest{topic}* — {len(stories)} {noun} from {new_articles} new articles · {when}"
    blocks = [section(head), *story_blocks(stories)]
    fallback = f"{kind} digest{topic}: {len(stories)} {noun} — “{escape(shorten(stories[0].sentence, 200))}”"
    return {"text": fallback, "blocks": blocks}
