"""The message shortcut "Ask Newsbot about this" (callback `ask_newsbot`): the message becomes the question, and
the answer comes privately, with Share — through the shortcut's `response_url` (ephemeral), else
`chat.postEphemeral`, else a DM when the channel does not let the bot in (a private channel, a DM between
two people). A bot's message, an empty one or one longer than a question may be gets one clear line instead.
"""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import blocks
from bot.slack.answering import apologize
from bot.slack.listeners.events import ack_now
from bot.slack.message_question import question_about
from bot.slack.replies import ResponseUrlError, post, respond
from bot.slack.services import Services
from index.questions import MAX_QUESTION_CHARS

log = logging.getLogger("newsbot.shortcuts")

CALLBACK_ID = "ask_newsbot"
FROM_AN_APP = "I can only answer about people's messages; that one was posted by an app. Ask with `/news <question>`."
NO_WORDS = "That message has no words I can ask about. Ask with `/news <question>`."
# errors after which a private reply must go to the user's DM instead
CANNOT_POST_HERE = frozenset({"channel_not_found", "not_in_channel", "user_not_in_channel", "is_archived",
                              "restricted_action", "messages_tab_disabled", "cannot_reply_to_message"})


MAX_MESSAGE_CHARS = 4 * MAX_QUESTION_CHARS  # of the message as sent (markup and link addresses count there)


def too_long(length: int) -> str:
    """The one line for a message whose question would pass the question limit."""
    return (f"That message is too long to ask about ({length:,} characters; a question holds at most "
            f"{MAX_QUESTION_CHARS:,}). Copy the part you mean into `/news <question>`.")


class AskAboutMessage:
    """Answers a message shortcut privately."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def answer(self, body: dict, client: WebClient, context: dict) -> None:
        """Read the message, answer it, deliver the answer privately (an apology there if anything fails)."""
        user = (body.get("user") or {}).get("id")
        channel = (body.get("channel") or {}).get("id")
        message = body.get("message") if isinstance(body.get("message"), dict) else {}
        thread_ts = message.get("thread_ts") if isinstance(message.get("thread_ts"), str) else None
        try:
            reply = self._reply(message, channel, context.get("bot_user_id"))
        except Exception:
            log.exception("could not answer a message shortcut")
            reply = blocks.text_message(blocks.APOLOGY)
        apologize(lambda: self._deliver(client, body, reply, channel, user, thread_ts))

    def _reply(self, message: dict, channel: str | None, bot_user_id: str | None) -> dict:
        if message.get("bot_id") or message.get("subtype") == "bot_message" or message.get("bot_profile"):
            return blocks.text_message(FROM_AN_APP)
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        if len(text) > MAX_MESSAGE_CHARS:  # nothing read of a message that cannot fit, however it reads
            return blocks.text_message(too_long(len(text)))
        index = self.services.index

        def title_of(url: str) -> str | None:
            found = index.find_article([url]) if index.exists() else None
            return found[1] if found else None

        question = question_about(text, bot_user_id, title_of)
        if not question:
            return blocks.text_message(NO_WORDS)
        if len(question) > MAX_QUESTION_CHARS:  # the question as read: a long link's address is not its words
            return blocks.text_message(too_long(len(question)))
        answers = self.services.answers
        return answers.answer(question, context=answers.context(channel), shareable=True, show_question=True)

    @staticmethod
    def _deliver(client: WebClient, body: dict, reply: dict, channel: str | None, user: str | None,
                 thread_ts: str | None) -> None:
        """Ephemeral through the `response_url`, else `chat.postEphemeral`, else the user's DM."""
        response_url = body.get("response_url")
        if isinstance(response_url, str) and response_url:
            try:
                respond(response_url, reply, thread_ts=thread_ts)
                return
            except (ResponseUrlError, OSError) as exc:
                log.warning("the shortcut's response_url refused the answer (%s); trying chat.postEphemeral", exc)
        if not user:
            return
        if channel:
            try:
                client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **reply)
                return
            except SlackApiError as exc:
                if exc.response.get("error") not in CANNOT_POST_HERE:
                    raise
                log.info("cannot answer privately in %s (%s); sending a DM", channel, exc.response.get("error"))
        dm = client.conversations_open(users=user)["channel"]["id"]
        post(client, dm, _without_share(reply))


def _without_share(message: dict) -> dict:
    """The answer for a DM: Share would post it in the DM itself, so it goes."""
    kept = []
    for block in message.get("blocks", []):
        if block.get("type") == "actions":
            elements = [e for e in block.get("elements", []) if e.get("action_id") != blocks.ACTION_SHARE]
            if not elements:
                continue
            block = {**block, "elements": elements}
        kept.append(block)
    return {**message, "blocks": kept}


def register(app: App, services: Services) -> None:
    """The message shortcut, acknowledged at once (Slack wants it within 3 s), answered in a lazy listener."""
    shortcut = AskAboutMessage(services)
    app.message_shortcut(CALLBACK_ID)(ack=ack_now, lazy=[shortcut.answer])
