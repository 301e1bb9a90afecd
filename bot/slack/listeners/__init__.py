"""The bot's Slack listeners by kind, as bolt's app template lays them out: `commands` (/news), `actions`
(buttons) and `events` (mentions, DMs, App Home), each with a `register(app, services)`.

Every request is acknowledged at once in its HTTP thread; answers come from lazy listeners on the worker pool,
so Slack gets its response within 3 seconds even while the model is still loading, and 20 simultaneous
questions simply queue.
"""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners import actions, commands, events
from bot.slack.services import Services


def register(app: App, services: Services) -> None:
    """Attach a listener to every event, command and action the manifest subscribes to (events last: it ends
    with the catch-all)."""
    commands.register(app, services)
    actions.register(app, services)
    events.register(app, services)
