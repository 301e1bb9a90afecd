"""Slack's assistant pane ("Agents & AI apps"), with bolt's `Assistant`: a thread starts with a one-line greeting
and prompts drawn from the day's biggest stories; a question gets a status while it is read, the thread a title
from its first question, then the same answer as anywhere else, read with the thread's earlier questions and
searched within the scope of the channel the user is viewing.

bolt's `Assistant` takes every threaded reply in a DM; one in a thread the pane did not start is an ordinary
DM question, answered as one (`events.ConversationEvents.answer_dm`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from slack_bolt import App, Assistant
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.assistant.prompts import (
    NEWS_STORIES,
    PROMPT_STORIES,
    greeting,
    is_whats_new,
    recent_stories,
    suggested_prompts,
    whats_new_message,
)
from bot.slack import blocks
from bot.slack.listeners.events import ConversationEvents
from bot.slack.replies import post
from bot.slack.services import Services
from bot.state.assistant_threads import clean_context

log = logging.getLogger("newsbot.assistant")

TITLE_CHARS = 80
PROMPTS_TITLE = "Try asking"


def _nothing() -> None:
    """The `Assistant` acknowledges its events itself; the work is in the lazy listeners."""


class PassageCount:
    """How many passages the index holds, read again only when an update has changed it (for the status)."""

    def __init__(self, services: Services) -> None:
        self.index = services.index
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None  # (generation, passages)

    def __call__(self) -> int | None:
        if not self.index.exists():
            return None
        generation = self.index.generation()
        with self._lock:
            if self._seen is None or self._seen[0] != generation:
                self._seen = (generation, self.index.stats().passages)
            return self._seen[1]


class PaneQuestion:
    """One question in a pane thread: its status and title, its scope, and "What's new?"."""

    def __init__(self, services: Services, channel: str, thread_ts: str, viewed: str | None,
                 set_status: Callable[..., object], set_title: Callable[..., object], passages: int | None) -> None:
        self.services = services
        self.channel, self.thread_ts = channel, thread_ts
        self.scope_channel = viewed
        self.set_status, self.set_title = set_status, set_title
        self.passages = passages

    def working(self, question: str) -> None:
        reading = f"Reading {self.passages:,} passages…" if self.passages else "Reading the news…"
        _try("set the status", lambda: self.set_status(status=reading))
        if question and self.services.threads.take_title(self.channel, self.thread_ts):
            _try("set the title", lambda: self.set_title(blocks.shorten(question, TITLE_CHARS)))

    def reply(self, question: str) -> dict | None:
        if not is_whats_new(question):
            return None
        scope = self.services.scopes.filters(self.scope_channel)
        return whats_new_message(recent_stories(self.services.index, scope, NEWS_STORIES))


def _try(what: str, call: Callable[[], object]) -> None:
    """A status or title Slack refuses (an old client, a missing scope) must not stop the answer."""
    try:
        call()
    except (SlackApiError, OSError) as exc:
        reason = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
        log.warning("could not %s in the assistant pane: %s", what, reason)


class AssistantPane:
    """The pane's listeners."""

    def __init__(self, services: Services, events: ConversationEvents) -> None:
        self.services = services
        self.events = events
        self.passages = PassageCount(services)

    def remember(self, event: dict) -> None:
        """A new pane thread, recorded before the event is acknowledged: a question typed at once is a pane
        question, not a plain DM (the greeting and prompts follow in `started`)."""
        thread = _thread_of(event)
        if thread is None:
            return
        user = thread.get("user_id") if isinstance(thread.get("user_id"), str) else None
        try:
            self.services.threads.started(thread["channel_id"], thread["thread_ts"], user, thread.get("context"))
        except Exception as exc:  # the event is still acknowledged; `started` records it once more
            log.warning("could not record a new assistant thread before acknowledging it: %s", exc)

    def started(self, body: dict, event: dict, client: WebClient, set_suggested_prompts: Callable[..., object]) -> None:
        """A new pane thread (recorded by `remember`): greet, and suggest questions about the day's biggest stories."""
        thread = _thread_of(event)
        if thread is None:
            return
        channel, thread_ts = thread["channel_id"], thread["thread_ts"]
        services = self.services
        if not services.claims.claim(body.get("event_id")):
            return
        if services.threads.context(channel, thread_ts) is None:  # `remember` could not record it
            self.remember(event)
        viewed = clean_context(thread.get("context")).get("channel_id")
        scope = services.scopes.filters(viewed)
        greeted = False
        try:
            hello = greeting(services.answers.article_count(), viewed, scope)
            post(client, channel, blocks.text_message(hello), thread_ts)
            greeted = True
            stories = recent_stories(services.index, scope, PROMPT_STORIES)
            prompts = suggested_prompts(stories)
            _try("suggest prompts", lambda: set_suggested_prompts(prompts=prompts, title=PROMPTS_TITLE))
        except Exception:
            log.exception("could not greet a new assistant thread")
        finally:
            services.claims.finish(body.get("event_id"), greeted)

    def answer(self, body: dict, event: dict, client: WebClient, context: dict,
               set_status: Callable[..., object], set_title: Callable[..., object]) -> None:
        """A question in a pane thread (or an ordinary threaded DM, answered as one)."""
        channel, thread_ts = event.get("channel"), event.get("thread_ts")
        stored = self.services.threads.context(channel, thread_ts) if channel and thread_ts else None
        if stored is None:
            self.events.answer_dm(body, event, client, context)
            return
        pane = PaneQuestion(self.services, channel, thread_ts, stored.get("channel_id"), set_status, set_title,
                            self.passages())
        self.events.answer_in_pane(body, event, client, context.get("bot_user_id"), pane)


def _thread_of(event: dict) -> dict | None:
    """The event's `assistant_thread` when it names a channel and a thread, else None."""
    thread = event.get("assistant_thread")
    if not isinstance(thread, dict):
        return None
    ok = isinstance(thread.get("channel_id"), str) and isinstance(thread.get("thread_ts"), str)
    return thread if ok else None


def register(app: App, services: Services) -> None:
    """The pane's listeners; call before any other listener (bolt hands its thread store to those registered after)."""
    pane = AssistantPane(services, ConversationEvents(services))
    assistant = Assistant(thread_context_store=services.threads)
    assistant.thread_started(lazy=[pane.started])(pane.remember)
    assistant.user_message(lazy=[pane.answer])(_nothing)
    app.assistant(assistant)
