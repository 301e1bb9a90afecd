"""The bot's Slack listeners by kind, as bolt's app template lays them out: `assistant` (the AI-apps pane),
`commands` (/news), `actions` (buttons), `shortcuts` (Ask Newsbot about this), `links` (links shared in
collecting channels) and `events` (mentions, DMs, App Home), each with a `register(app, services)`.

Every request is acknowledged at once in its HTTP thread; answers come from lazy listeners on the worker pool,
so Slack gets its response within 3 seconds even while the model is still loading, and 20 simultaneous
questions simply queue.
"""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners import actions, assistant, commands, events, links, shortcuts
from bot.slack.services import Services


def register(app: App, services: Services) -> None:
    """Attach a listener to every event, command, action and shortcut the manifest subscribes to: the pane first
    (bolt gives its thread store to the listeners registered after it), events last (it ends with catch-alls)."""
    assistant.register(app, services)
    commands.register(app, services)
    actions.register(app, services)
    shortcuts.register(app, services)
    links.register(app, services)
    events.register(app, services)
