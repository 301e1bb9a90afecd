"""Read a Slack message: whether a person sent it, and its text turned back into the plain question they typed."""

from __future__ import annotations

import re

from index.reading import sanitize

_USER = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#[A-Z0-9]+\|([^>]*)>")
_SPECIAL = re.compile(r"<!([a-z]+)(?:\^[^|>]*)?(?:\|([^>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]*)(?:\|([^>]*))?>")
PERSONS_SUBTYPES = (None, "thread_broadcast", "file_share")  # a message a person wrote (not a join, an edit…)


def is_persons(message: dict) -> bool:
    """Whether a message is a person's own: not a bot's or an app's (`bot_id`, `bot_profile`, `bot_message`), not
    an edit, a join or any other event Slack records."""
    if message.get("bot_id") or message.get("bot_profile") or message.get("subtype") not in PERSONS_SUBTYPES:
        return False
    return isinstance(message.get("user"), str)


def question_from(text: str, bot_user_id: str | None = None) -> str:
    """The question in `text`: the bot's own mention dropped, Slack's markup and escapes turned back into text."""
    text = _USER.sub(lambda m: "" if m.group(1) == bot_user_id else f"@{m.group(1)}", text or "")
    text = _CHANNEL.sub(lambda m: f"#{m.group(1)}", text)
    text = _SPECIAL.sub(lambda m: m.group(2) or f"@{m.group(1)}", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(sanitize(text).split())  # no NUL or lone surrogate: neither engine could store it
