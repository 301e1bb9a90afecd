"""`/news follow <question>`, `/news following`, `/news unfollow <number>` (also as `@Newsbot follow …`), and
the Unfollow button: anyone in a conversation may follow; ending a follow is for its creator and admins."""

from __future__ import annotations

import json
import logging

from bot.config import FollowLimits
from bot.follows import blocks as follow_blocks
from bot.follows.store import Follow, FollowRefused, FollowStore
from bot.slack import blocks
from bot.slack.replies import respond
from index import EmptyQuestion, FilterError
from index.questions import clean_question, read_question

log = logging.getLogger("newsbot.follows")

WORDS = ("follow", "following", "unfollow", "resume")
MAX_FOLLOW_CHARS = 500


def follow_command(text: str) -> tuple[str, str] | None:
    """(word, rest) for `follow …`, `following`, `unfollow …`; None for anything else (a question)."""
    words = text.split(maxsplit=1)
    if not words or words[0].lower() not in WORDS:
        return None
    return words[0].lower(), (words[1].strip() if len(words) > 1 else "")


class FollowCommands:
    """Create, list and end follows for a conversation."""

    def __init__(self, store: FollowStore, admins: frozenset[str], limits: FollowLimits = FollowLimits()) -> None:
        self.store = store
        self.admins = admins
        self.limits = limits

    def run(self, word: str, rest: str, channel: str, user: str | None) -> dict:
        """The reply to one follow command in `channel` by `user`."""
        if word == "following":
            return follow_blocks.follows_list(self.store.in_channel(channel))
        if word == "unfollow":
            return self.unfollow(rest, channel, user)
        if word == "resume":
            return self.resume(rest, channel, user)
        return self.follow(rest, channel, user)

    def follow(self, question: str, channel: str, user: str | None) -> dict:
        """Follow `question` here; a one-line confirmation or a one-line reason it cannot be."""
        try:
            question = clean_question(question)
            if len(question) > MAX_FOLLOW_CHARS:
                return blocks.text_message(f"A follow holds at most {MAX_FOLLOW_CHARS} characters; this one has "
                                           f"{len(question):,}. Follow a shorter question or topic.")
            if not read_question(question).text:
                raise EmptyQuestion("only filters")
        except EmptyQuestion:
            return blocks.text_message("Say what to follow, e.g. `/news follow grain exports from Ukraine source:reuters`.")
        except FilterError as exc:
            return blocks.text_message(blocks.escape(f"{exc}. Filters: source: site: after: before: on: during:."))
        try:
            follow = self.store.add(channel, question, user, self.limits)
        except FollowRefused as exc:
            return blocks.text_message(str(exc))
        log.info("follow #%d created in %s", follow.id, channel)
        return follow_blocks.confirmation(follow, "here")

    def unfollow(self, rest: str, channel: str, user: str | None) -> dict:
        """End follow `rest` (a number, with or without #) of this conversation, if `user` may."""
        follow = self._own(rest, channel, user, "end")
        if not isinstance(follow, Follow):
            return follow
        self.store.remove(follow.id)
        return blocks.text_message(f"Stopped following “{blocks.escape(blocks.shorten(follow.question, 200))}” (#{follow.id}).")

    def resume(self, rest: str, channel: str, user: str | None) -> dict:
        """Post again for follow `rest`, paused when its channel refused the bot's posts, if `user` may."""
        follow = self._own(rest, channel, user, "resume")
        if not isinstance(follow, Follow):
            return follow
        if not self.store.resume(follow.id):
            return blocks.text_message(f"Follow #{follow.id} is not paused: new articles that answer it are posted here.")
        return blocks.text_message(f":bell: Follow #{follow.id} resumed: new articles that answer it will be posted here again.")

    def _own(self, rest: str, channel: str, user: str | None, verb: str) -> Follow | dict:
        """Follow `rest` of this conversation when `user` created it or is an admin; else the reply saying why not."""
        number = rest.lstrip("#")
        if not (number.isascii() and number.isdigit()) or len(number) > 18:  # "²" is a digit int() refuses
            return blocks.text_message(f"Say which follow to {verb}, e.g. `/news {'unfollow' if verb == 'end' else verb} 3` "
                                       "(`/news following` lists them).")
        follow = self.store.get(int(number))
        if follow is None or follow.channel != channel:
            return blocks.text_message(f"There is no follow #{number} in this conversation; `/news following` lists them.")
        if user != follow.created_by and user not in self.admins:
            return blocks.text_message(f"Only <@{blocks.escape(follow.created_by or '')}> (who created it) or a Newsbot "
                                       f"admin can {verb} this follow.")
        return follow

    def clicked_unfollow(self, body: dict) -> None:
        """The Unfollow button of `/news following`: end the follow and say so privately."""
        response_url = body.get("response_url")
        try:
            value = json.loads(body["actions"][0].get("value") or "")
            follow_id = value["f"] if isinstance(value, dict) else None
        except (ValueError, KeyError, IndexError, TypeError):
            follow_id = None
        if not isinstance(follow_id, int) or isinstance(follow_id, bool) or not isinstance(response_url, str):
            log.warning("an Unfollow click carried a value the bot never wrote")
            if isinstance(response_url, str):
                respond(response_url, blocks.text_message(blocks.UNREADABLE_BUTTON))
            return
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""
        user = (body.get("user") or {}).get("id")
        respond(response_url, self.unfollow(str(follow_id), channel, user))
