"""The earlier questions of a Slack thread, so a follow-up ("and what did Russia say?") is read with them.

Read with `conversations.replies` (scopes `channels:history`, `groups:history`, `mpim:history`,
`im:history`). Only threads the bot has already answered in count, and only messages people sent
it: the mention's own text in a channel, any message in a direct-message thread; another bot's message,
mention or not, is never a question (it could carry a filter into the next person's follow-up).
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.channel_commands import channel_command
from bot.slack.questions import is_persons, question_from
from index.questions import MAX_EARLIER

log = logging.getLogger("newsbot.threads")

PAGE = 200  # messages per conversations.replies call
MAX_PAGES = 5  # a thread past 1,000 messages is read from its start only


def earlier_questions(
    client: WebClient, channel: str, thread_ts: str, before_ts: str, bot_user_id: str | None, direct: bool
) -> tuple[str, ...]:
    """The questions asked of the bot in this thread before `before_ts`, oldest first (at most `MAX_EARLIER`).

    Empty when the bot has not answered in the thread, or the thread cannot be read (a missing scope
    is logged, and the question is answered on its own).
    """
    messages = _thread(client, channel, thread_ts)
    if not any(_is_bots(m, bot_user_id) for m in messages):
        return ()
    mention = f"<@{bot_user_id}" if bot_user_id else None
    questions = []
    for message in messages:
        text, ts = message.get("text"), message.get("ts")
        if not isinstance(text, str) or not isinstance(ts, str) or not _is_a_persons(message, bot_user_id):
            continue
        if not _earlier(ts, before_ts):
            continue
        if not direct and (mention is None or mention not in text):
            continue  # people talking among themselves in the thread did not ask the bot
        question = question_from(text, bot_user_id)
        if question and question.lower() not in ("help", "help?") and channel_command(question) is None:
            questions.append(question)  # "@Newsbot follow …" or "digest daily 08:00" asked nothing
    return tuple(questions[-MAX_EARLIER:])


def _thread(client: WebClient, channel: str, thread_ts: str) -> list[dict]:
    """The thread's messages, parent first; empty when Slack refuses (missing scope, deleted thread)."""
    messages: list[dict] = []
    cursor = None
    try:
        for _ in range(MAX_PAGES):
            response = client.conversations_replies(channel=channel, ts=thread_ts, limit=PAGE, cursor=cursor)
            page = response.get("messages")
            messages += [m for m in page if isinstance(m, dict)] if isinstance(page, list) else []
            metadata = response.get("response_metadata")
            cursor = metadata.get("next_cursor") if isinstance(metadata, dict) else None
            if response.get("has_more") is not True or not isinstance(cursor, str) or not cursor:
                break
    except SlackApiError as exc:
        log.warning("could not read the thread for context (%s); answering the question alone",
                    exc.response.get("error"))
        return []
    except OSError as exc:
        log.warning("could not reach Slack to read the thread (%s); answering the question alone", exc)
        return []
    return messages


def _is_bots(message: dict, bot_user_id: str | None) -> bool:
    """A message this bot posted (its answers carry its user id)."""
    return bool(bot_user_id) and message.get("user") == bot_user_id


def _is_a_persons(message: dict, bot_user_id: str | None) -> bool:
    """A message a person sent: not this bot's, not another bot's, and not an edit, a join or any other event Slack
    records in the thread."""
    return not _is_bots(message, bot_user_id) and is_persons(message)


def _earlier(ts: str, before_ts: str) -> bool:
    """Slack timestamps ("1700000000.000100") compare as numbers."""
    try:
        return float(ts) < float(before_ts)
    except ValueError:
        return False
