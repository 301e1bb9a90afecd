"""Block Kit messages of follows: a new story's post, the burst summary, the list with Unfollow buttons."""

from __future__ import annotations

import json

from bot.follows.store import Follow
from bot.slack.blocks import (
    FALLBACK_CHARS,
    QUESTION_CHARS,
    TITLE_CHARS,
    button,
    context,
    escape,
    quote_text,
    section,
    shorten,
    source_line,
)
from index import Answer

ACTION_UNFOLLOW = "unfollow"
LISTED = 40  # follows listed with a button each (a message holds 50 blocks)


def _followed(follow: Follow) -> str:
    return f"“{escape(shorten(follow.question, QUESTION_CHARS))}”"


def story_message(follow: Follow, answer: Answer) -> dict:
    """A new article matching a follow: what was followed, the verbatim quote with its bold sentence, the sources."""
    head = f":newspaper: New on {_followed(follow)} (followed by <@{escape(follow.created_by or 'someone')}>)"
    sentence = shorten(" ".join(answer.highlight.split()), FALLBACK_CHARS)
    fallback = escape(f"New on “{shorten(follow.question, 100)}”: “{sentence}” — {shorten(answer.article.title, TITLE_CHARS)}")
    return {"text": fallback, "blocks": [context(head), section(quote_text(answer)), context(source_line(answer))]}


def summary_message(follow: Follow, more: int) -> dict:
    """The one line after a burst reached the hourly cap."""
    noun = "article matches" if more == 1 else "articles match"
    text = (f":newspaper: {more} more new {noun} {_followed(follow)} this hour — "
            f"ask `/news {escape(shorten(follow.question, 200))}` to see them.")
    return {"text": text, "blocks": [section(text)]}


def confirmation(follow: Follow, where: str) -> dict:
    """The one line a new follow gets."""
    text = (f":bell: Following {_followed(follow)} (#{follow.id}): new articles that answer it will be posted {where}. "
            f"`/news following` lists follows, `/news unfollow {follow.id}` stops this one.")
    return {"text": text, "blocks": [section(text)]}


def follows_list(follows: list[Follow]) -> dict:
    """`/news following`: each follow with who created it and an Unfollow button."""
    if not follows:
        text = "Nothing is followed here yet. `/news follow <question or topic>` posts new articles that answer it."
        return {"text": text, "blocks": [section(text)]}
    intro = f"*{len(follows)} followed here*"
    blocks = [section(intro)]
    for follow in follows[:LISTED]:
        who = f"<@{escape(follow.created_by)}>" if follow.created_by else "someone"
        line = f"#{follow.id} {_followed(follow)} — by {who} on {escape(follow.created_at[:10])}"
        if follow.paused:
            line += f" — :pause_button: paused (`{escape(follow.paused)}`): `/news resume {follow.id}` after inviting Newsbot"
        block = section(line)
        block["accessory"] = button("Unfollow", ACTION_UNFOLLOW, json.dumps({"f": follow.id}))
        blocks.append(block)
    if len(follows) > LISTED:
        blocks.append(context(f"…and {len(follows) - LISTED} more; `/news unfollow <number>` ends any of them."))
    return {"text": intro.strip("*"), "blocks": blocks}
