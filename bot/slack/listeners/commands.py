"""The `/news` command: every subcommand routed in one table, each with its immediate reply (the ack, within
Slack's 3 seconds) and, for the slow ones, a private reply sent later to the command's `response_url`."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack import blocks
from bot.slack.answering import apologize
from bot.slack.channel_commands import channel_command
from bot.slack.questions import question_from
from bot.slack.replies import respond
from bot.slack.services import Services
from intake.adding import add_urls

log = logging.getLogger("newsbot.commands")

_URL_LIKE = re.compile(r"^<?(https?://\S+|[\w-]+(\.[\w-]+)+(/\S*)?)>?$", re.IGNORECASE)


def add_command(text: str) -> list[str] | None:
    """The URLs of `/news add <url> ...` (empty for a bare `add`); None when the text is a question.

    "add" followed by anything that is not a link ("add more troops?") is a question like any other.
    """
    words = text.split()
    if not words or words[0].lower() != "add":
        return None
    links = [word.split("|", 1)[0].strip("<>") for word in words[1:]]
    return links if all(_URL_LIKE.match(word) for word in words[1:]) else None


def route(text: str) -> str:
    """Which subcommand `/news <text>` is: help, reindex, stats, add, channel (scope, follows, digests) or question."""
    word = text.strip().lower()
    if word in ("", "help", "reindex", "stats"):
        return word or "help"
    if add_command(text) is not None:
        return "add"
    if channel_command(question_from(text)) is not None:
        return "channel"
    return "question"


@dataclass(frozen=True)
class Subcommand:
    """One `/news` subcommand: its ack's message (None: a bare ack) and its later private reply (None: the ack said all)."""

    ack: Callable[[dict, str], dict | None]
    reply: Callable[[dict, str, WebClient], dict | None] | None = None


class NewsCommand:
    """`/news …` for everyone; `add` and `reindex` follow the admin rules of `IndexCommands`."""

    def __init__(self, services: Services) -> None:
        self.services = services
        index_commands = services.index_commands
        self.table: dict[str, Subcommand] = {
            "help": Subcommand(lambda command, text: blocks.help_message()),
            "reindex": Subcommand(lambda command, text: index_commands.start_reindex(command)),
            "stats": Subcommand(lambda command, text: None, self.stats),
            "add": Subcommand(lambda command, text: index_commands.ack_add(command, add_command(text)), self.add),
            "channel": Subcommand(lambda command, text: None, self.channel),
            "question": Subcommand(self.looking, self.question),
        }

    def ack(self, ack: Ack, command: dict) -> None:
        """Acknowledge within Slack's 3 seconds: help and refusals right away, what takes longer announced."""
        text = command.get("text", "").strip()
        message = self.table[route(text)].ack(command, text)
        ack(**message) if message is not None else ack()

    def answer(self, command: dict, client: WebClient) -> None:
        """The private reply, sent to the command's `response_url` (nothing when the ack said it all)."""
        text = command.get("text", "").strip()
        reply = self.table[route(text)].reply
        if reply is None:
            return
        response_url = command["response_url"]
        try:
            message = reply(command, text, client)
            if message is not None:
                respond(response_url, message)
        except Exception:
            log.exception("could not answer /news")
            apologize(lambda: respond(response_url, blocks.text_message(blocks.APOLOGY)))

    @staticmethod
    def looking(command: dict, text: str) -> dict:
        return blocks.text_message(f":mag: Looking for “{blocks.escape(blocks.shorten(text, 200))}” in the news…")

    def stats(self, command: dict, text: str, client: WebClient) -> dict:
        index = self.services.index
        return blocks.stats_message(index.stats() if index.exists() else None)

    def add(self, command: dict, text: str, client: WebClient) -> dict | None:
        if not self.services.index_commands.may_add(command):
            return None  # refused in the ack
        urls = add_command(text)
        return blocks.added_message(add_urls(self.services.index, urls)) if urls else blocks.help_message()

    def channel(self, command: dict, text: str, client: WebClient) -> dict:
        word, rest = channel_command(question_from(text))
        return self.services.commands.run(word, rest, command.get("channel_id") or "", command.get("user_id"), client)

    def question(self, command: dict, text: str, client: WebClient) -> dict:
        question, answers = question_from(text), self.services.answers
        if not question:
            return blocks.help_message(answers.article_count())
        context = answers.context(command.get("channel_id"))
        return answers.answer(question, context=context, shareable=True, show_question=True)


def register(app: App, services: Services) -> None:
    """`/news`, acknowledged in the request thread, answered in a lazy listener."""
    news = NewsCommand(services)
    app.command("/news")(ack=news.ack, lazy=[news.answer])
