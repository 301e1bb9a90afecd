"""Links people share in a channel that collects them (`/news collect on`): queued for the collector
(`bot.links.collector`), which fetches, indexes and marks them. Nothing is posted in the channel.

A message's links are queued once: Slack's re-delivery, an unfurl (`message_changed` with the same links) and
an edit that keeps a link add nothing; an edit that adds a link queues only that one. Bots' messages (this one's
answers included) and the bot's DMs are never collected.
"""

from __future__ import annotations

import logging

from slack_bolt import App

from bot.links.found import links_in
from bot.slack.listeners.events import ack_now
from bot.slack.questions import is_persons
from bot.slack.services import Services
from intake.webpage import clean_url

log = logging.getLogger("newsbot.links")


def shared_message(event: dict) -> dict | None:
    """The person's message a channel `message` event carries (an edit's new version), or None."""
    if event.get("channel_type") == "im" or not isinstance(event.get("channel"), str):
        return None
    message = event.get("message") if event.get("subtype") == "message_changed" else event
    if not isinstance(message, dict) or not isinstance(message.get("ts"), str) or not is_persons(message):
        return None
    return message


def has_shared_links(event: dict) -> bool:
    """A matcher: a person's channel message with at least one web link (checked before any database read)."""
    message = shared_message(event)
    return message is not None and bool(links_in(message))


class LinkSharing:
    """Queues the links of messages in collecting channels."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def queue(self, event: dict) -> None:
        """Queue the message's links if its channel collects them."""
        message, channel = shared_message(event), event.get("channel")
        if message is None or self.services.collecting.get(channel) is None:
            return
        urls = [clean_url(url) for url in links_in(message)]
        added = self.services.links.add(channel, message["ts"], list(dict.fromkeys(urls)))
        if added < len(urls):
            log.info("%d of %d links from a message in %s were queued (the rest already were, or the queue is full)",
                     added, len(urls), channel)


def register(app: App, services: Services) -> None:
    """Channel messages with links (before `events`' catch-all for other messages)."""
    sharing = LinkSharing(services)
    app.event("message", matchers=[has_shared_links])(ack=ack_now, lazy=[sharing.queue])
