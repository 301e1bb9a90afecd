"""The App Home tab: gather what the index knows and publish the view for one user."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.slack.blocks import home_view
from index import Index

EXAMPLES = 3


def recent_titles(index: Index, limit: int = EXAMPLES) -> list[str]:
    """Titles of the newest articles, to suggest questions about them."""
    return index.recent_titles(limit)


def publish_home(client: WebClient, index: Index, user_id: str, collecting: list[str] | None = None) -> None:
    """Show `user_id` the current Home tab (counts, newest article, last update, examples, the channels whose links
    are collected, how to ask)."""
    exists = index.exists()
    view = home_view(index.stats() if exists else None, recent_titles(index) if exists else [], collecting)
    client.views_publish(user_id=user_id, view=view)
