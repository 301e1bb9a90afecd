"""Events: an @mention in a channel, a direct message, the App Home tab opened, and every other event acknowledged.

A question in a conversation is answered in its thread (in a DM: the conversation), once per event id, with a
working reaction while it is searched; a reply in a thread is read with the thread's earlier questions.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack import blocks
from bot.slack.answering import apologize
from bot.slack.channel_commands import channel_command
from bot.slack.home import publish_home
from bot.slack.questions import question_from
from bot.slack.replies import post, react
from bot.slack.services import Services
from bot.slack.threads import earlier_questions

log = logging.getLogger("newsbot.events")

WORKING_REACTION = "eyes"
# a DM message is a question when plain, sent with a file, or a thread reply also sent to the conversation
QUESTION_SUBTYPES = (None, "file_share", "thread_broadcast")
ANY_EVENT = re.compile(r".*")


def ack_now(ack: Ack) -> None:
    """Acknowledge an event or click at once; the work happens in a lazy listener."""
    ack()


def is_user_dm(event: dict) -> bool:
    """A new message a person sent the bot in a DM, files attached or not (not an edit, a deletion or a bot's)."""
    return event.get("channel_type") == "im" and event.get("subtype") in QUESTION_SUBTYPES and not event.get("bot_id")


def is_dm_channel(channel: str) -> bool:
    """DM channel ids start with D; answers there go in the conversation, not in a thread."""
    return channel.startswith("D")


def _ack_other_event(ack: Ack, event: dict) -> None:
    """An event type nothing here listens to (e.g. `tokens_revoked`, sent to every app): a 404 would be retried."""
    log.debug("acknowledged a %s event, which the bot does not use", str(event.get("type"))[:50])
    ack()


class Pane(Protocol):
    """What differs when a question comes from the assistant pane (`listeners.assistant`)."""

    scope_channel: str | None  # the channel the user is viewing: its scope applies

    def working(self, question: str) -> None:
        """Show that the question is being read (the pane's status, and its title)."""

    def reply(self, question: str) -> dict | None:
        """A reply of the pane's own (e.g. the day's stories), or None to search."""


class ConversationEvents:
    """Questions and commands in channels and DMs, and the App Home tab."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def answer_mention(self, body: dict, event: dict, client: WebClient, context: dict) -> None:
        """@Newsbot in a channel: answer in the mention's thread."""
        if is_dm_channel(event.get("channel", "")):
            return  # a mention inside a DM also arrives as a message event, answered there
        thread_ts = event.get("thread_ts") or event["ts"]
        self._answer(body, event, client, context.get("bot_user_id"), thread_ts)

    def answer_dm(self, body: dict, event: dict, client: WebClient, context: dict) -> None:
        """A direct message: answer in the conversation (in the thread if the question was in one)."""
        self._answer(body, event, client, context.get("bot_user_id"), event.get("thread_ts"))

    def answer_in_pane(self, body: dict, event: dict, client: WebClient, bot_user_id: str | None, pane: Pane) -> None:
        """A question in the assistant pane: answered in its thread, the way `pane` says."""
        self._answer(body, event, client, bot_user_id, event.get("thread_ts"), pane)

    def _answer(
        self, body: dict, event: dict, client: WebClient, bot_user_id: str | None, thread_ts: str | None,
        pane: Pane | None = None,
    ) -> None:
        """Answer once per event id, showing that the bot is working (a reaction, or the pane's status), with an
        apology in the same place on failure."""
        services, event_id = self.services, body.get("event_id")
        if not services.claims.claim(event_id):
            log.info("event %s was delivered again; it is already answered or being answered", event_id)
            return
        channel, ts = event["channel"], event["ts"]
        answered = False
        if pane is None:
            react(client, channel, ts, WORKING_REACTION, add=True)
        try:
            question = question_from(event.get("text", ""), bot_user_id)
            command = channel_command(question)
            if pane is not None:
                pane.working(question)
            if question.lower() in ("", "help", "help?"):
                message = blocks.help_message(services.answers.article_count())
            elif command is not None:  # "@Newsbot follow …": follows, digests and scopes belong to the conversation
                message = services.commands.run(*command, channel, event.get("user"), client)
            elif pane is not None and (special := pane.reply(question)) is not None:
                message = special
            else:
                earlier: tuple[str, ...] = ()
                if event.get("thread_ts") and event["thread_ts"] != ts:  # a reply: read with the thread
                    earlier = earlier_questions(
                        client, channel, event["thread_ts"], ts, bot_user_id, direct=is_dm_channel(channel)
                    )
                scope_channel = pane.scope_channel if pane is not None and pane.scope_channel else channel
                message = services.answers.answer(question, context=services.answers.context(scope_channel, earlier))
            post(client, channel, message, thread_ts)
            answered = True
        except Exception:
            log.exception("could not answer event %s in %s", event_id, channel)
            apologize(lambda: post(client, channel, blocks.text_message(blocks.APOLOGY), thread_ts))
        finally:
            services.claims.finish(event_id, answered)
            if pane is None:
                react(client, channel, ts, WORKING_REACTION, add=False)

    def show_home(self, event: dict, client: WebClient) -> None:
        """Publish the Home tab when a user opens it."""
        if event.get("tab") != "home":
            return
        try:
            publish_home(client, self.services.index, event["user"], self.services.collecting.all())
        except Exception:
            log.exception("could not publish the Home tab")


def register(app: App, services: Services) -> None:
    """The events the manifest subscribes to; last, one that acknowledges any other (call after other modules)."""
    events = ConversationEvents(services)
    app.event("app_mention")(ack=ack_now, lazy=[events.answer_mention])
    app.event("message", matchers=[is_user_dm])(ack=ack_now, lazy=[events.answer_dm])
    app.event("message")(ack_now)  # channel messages, edits, bots: nothing to do, but Slack needs a 200
    app.event("app_home_opened")(ack=ack_now, lazy=[events.show_home])
    app.event(ANY_EVENT)(_ack_other_event)  # last: only events no listener above took
