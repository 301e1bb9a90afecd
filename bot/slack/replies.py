"""Send messages: into a conversation with the Web API, or privately through an interaction's `response_url`."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.slack.app import retry_handlers

log = logging.getLogger("newsbot.replies")

NO_PREVIEWS = {"unfurl_links": False, "unfurl_media": False}
# Errors after which posting in that conversation cannot succeed by trying again.
PERMANENT_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "msg_too_long", "messages_tab_disabled",
    "restricted_action", "restricted_action_read_only_channel", "restricted_action_thread_only_channel",
    "restricted_action_non_threadable_channel", "team_access_not_granted", "cannot_reply_to_message",
    "channel_is_archived", "account_inactive", "invalid_auth", "not_authed", "token_revoked", "missing_scope",
})


def slack_error(exc: Exception) -> str:
    """Slack's error code for a failed call (or the network error's text)."""
    return str(exc.response.get("error")) if isinstance(exc, SlackApiError) else str(exc)


class ResponseUrlError(RuntimeError):
    """Slack refused a message sent to a `response_url`."""


def post(client: WebClient, channel: str, message: dict, thread_ts: str | None = None) -> None:
    """Post `message` (text + blocks) in a channel or DM, in a thread when `thread_ts` is given."""
    client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message, **NO_PREVIEWS)


def respond(response_url: str, message: dict, public: bool = False, thread_ts: str | None = None) -> None:
    """Send `message` to an interaction's `response_url`: ephemeral, or `public` in the channel.

    The url itself is a credential for that conversation, so it is never logged.
    """
    body = {
        **message,
        **NO_PREVIEWS,
        "response_type": "in_channel" if public else "ephemeral",
        "replace_original": False,
    }
    if thread_ts:
        body["thread_ts"] = thread_ts
    response = WebhookClient(response_url, retry_handlers=retry_handlers()).send_dict(body)
    if response.status_code != 200:
        raise ResponseUrlError(f"response_url answered HTTP {response.status_code}: {response.body[:200]}")


def react(client: WebClient, channel: str, ts: str, name: str, add: bool) -> None:
    """Add or remove a reaction that shows the bot is working; a failure here never stops an answer."""
    try:
        if add:
            client.reactions_add(channel=channel, timestamp=ts, name=name)
        else:
            client.reactions_remove(channel=channel, timestamp=ts, name=name)
    except (SlackApiError, OSError) as exc:
        reason = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
        log.warning("could not %s the :%s: reaction: %s", "add" if add else "remove", name, reason)
