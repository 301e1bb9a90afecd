"""Links people share in a channel that collects them (`/news collect on`): queued for the collector
(`bot.links.collector`), which fetches, indexes and marks them. Nothing is posted in the channel.

`link_shared` events (which Slack sends only for the domains an app registers for unfurling) are read the same
way. A message's links are queued once: Slack's re-delivery, an unfurl (`message_changed` with the same links) and
an edit that keeps a link add nothing; an edit that adds a link queues only that one. Bots' messages (this one's
answers included) and the bot's DMs are never collected.
"""

from __future__ import annotations

import logging

from slack_bolt import App

from bot.links.found import MAX_LINKS, links_in, web_links
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
        if message is not None and self.services.collecting.get(channel) is not None:
            self._add(channel, message["ts"], links_in(message))

    def _add(self, channel: str, message_ts: str, links: list[str]) -> None:
        """Queue one message's links, each page once (`clean_url`)."""
        urls = list(dict.fromkeys(clean_url(url) for url in links))
        added = self.services.links.add(channel, message_ts, urls)
        if added < len(urls):
            log.info("%d of %d links from a message in %s were queued (the rest already were, or the queue is full)",
                     added, len(urls), channel)

    def queue_link_shared(self, event: dict, context: dict) -> None:
        """`link_shared` (sent only for an app's registered unfurl domains): its links, as a message's would be.
        Links still in the composer (`source: composer`) are not shared yet, and the bot's own are never taken."""
        channel, ts, links = event.get("channel"), event.get("message_ts"), event.get("links")
        if event.get("source") == "composer" or not isinstance(channel, str) or not isinstance(ts, str):
            return
        if event.get("user") == context.get("bot_user_id"):
            return
        if not isinstance(links, list) or self.services.collecting.get(channel) is None:
            return
        found = web_links([link.get("url") for link in links[:MAX_LINKS] if isinstance(link, dict)])
        if found:
            self._add(channel, ts, found)


def register(app: App, services: Services) -> None:
    """Channel messages with links, and `link_shared` (before `events`' catch-all for other messages)."""
    sharing = LinkSharing(services)
    app.event("message", matchers=[has_shared_links])(ack=ack_now, lazy=[sharing.queue])
    app.event("link_shared")(ack=ack_now, lazy=[sharing.queue_link_shared])
