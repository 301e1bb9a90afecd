"""The conversation-level commands of `/news` and `@Newsbot`: `scope`, `follow`/`following`/`unfollow`/`resume`,
`digest` and `collect`. Each answers with one message; the listeners only route to `ChannelCommands.run`."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.digests.commands import DigestCommands
from bot.follows.commands import FollowCommands
from bot.links.store import CollectingChannels
from bot.slack import blocks
from bot.state.scopes import Scopes
from index import FilterError
from index.questions import parse_filters

WORDS = ("scope", "follow", "following", "unfollow", "resume", "digest", "collect")


def channel_command(text: str) -> tuple[str, str] | None:
    """(word, rest) when `text` is one of these commands; None for a question.

    Only the shapes the commands take count, so a question that starts with one of the words
    ("Following the ceasefire, what did Hamas say?", "Scope of the sanctions?") stays a question:
    `following` alone, `unfollow` with a number or nothing, `digest` with nothing, off, daily or weekly,
    `scope` with nothing, off or a filter, `collect` with nothing, on or off. `follow` takes anything after it
    (alone: what to follow?).
    """
    words = text.split(maxsplit=1)
    if not words or words[0].lower() not in WORDS:
        return None
    word, rest = words[0].lower(), (words[1].strip() if len(words) > 1 else "")
    first = rest.split()[0].lower() if rest else ""
    shaped = {
        "follow": True,  # alone, it asks what to follow
        "following": not rest,
        "unfollow": not rest or _is_number(rest.lstrip("#")),
        "resume": not rest or _is_number(rest.lstrip("#")),
        "digest": not rest or first in ("off", "daily", "weekly"),
        "scope": not rest or first == "off" or _has_filters(rest),
        "collect": rest.lower() in ("", "on", "off"),
    }
    return (word, rest) if shaped[word] else None


def _is_number(text: str) -> bool:
    """ASCII digits only ("²" and "٣" are digits to str.isdigit, and int() refuses the first)."""
    return text.isascii() and text.isdigit()


def _has_filters(text: str) -> bool:
    """Whether `text` holds a filter (a malformed one too: the reply says what is wrong, and so do other words)."""
    try:
        return bool(parse_filters(text)[1].given)
    except FilterError:
        return True


class ChannelCommands:
    """Scopes and collecting links (admins), follows and digests (anyone in the conversation)."""

    def __init__(
        self, scopes: Scopes, follows: FollowCommands, digests: DigestCommands, collecting: CollectingChannels,
        admins: frozenset[str],
    ) -> None:
        self.scopes = scopes
        self.follows = follows
        self.digests = digests
        self.collecting = collecting
        self.admins = admins

    def run(self, word: str, rest: str, channel: str, user: str | None, client: WebClient | None) -> dict:
        """The reply to one command `word rest` sent in `channel` by `user`."""
        if word == "scope":
            return self.scope(rest, channel, user)
        if word == "digest":
            return self.digests.run(rest, channel, user, client)
        if word == "collect":
            return self.collect(rest.lower(), channel, user)
        return self.follows.run(word, rest, channel, user)

    def scope(self, filters: str, channel: str, user: str | None) -> dict:
        """`scope …`: show the channel's scope to anyone; set or clear it for admins."""
        if not filters:
            return blocks.scope_message(self.scopes.get(channel), collecting=self.collecting.get(channel) is not None)
        if user not in self.admins:
            return blocks.text_message("Sorry, only Newsbot admins can change this channel's scope (`NEWSBOT_ADMINS`).")
        if filters.lower() == "off":
            cleared = self.scopes.clear(channel)
            return blocks.text_message("Scope cleared: questions here search every article." if cleared
                                       else "This channel has no scope to clear.")
        try:
            scope = self.scopes.set(channel, filters, user)
        except (FilterError, ValueError) as exc:
            return blocks.text_message(blocks.escape(f"{exc}. E.g. `/news scope source:reuters site:apnews.com`."))
        return blocks.scope_message(scope, changed=True)

    def collect(self, switch: str, channel: str, user: str | None) -> dict:
        """`collect`: whether the channel's shared links are indexed; `collect on|off` for admins."""
        if not switch:
            return blocks.text_message(blocks.collect_line(self.collecting.get(channel) is not None))
        if user not in self.admins:
            return blocks.text_message(
                "Sorry, only Newsbot admins can turn collecting links on or off (`NEWSBOT_ADMINS`)."
            )
        if channel.startswith("D"):
            return blocks.text_message("Links are collected in channels, not in a direct message: "
                                       "run `/news collect on` in the channel.")
        changed = self.collecting.set(channel, switch == "on", user)
        if switch == "on":
            note = "" if changed else " (it already was)"
            return blocks.text_message(f":newspaper: Collecting links shared here{note}: each article people link "
                                       "is indexed and its message marked with :newspaper:. Invite me to the channel "
                                       "if I am not in it yet.")
        return blocks.text_message("Stopped collecting links here." if changed else "Links were not collected here.")
