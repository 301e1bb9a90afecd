"""Slack listeners: every request is acknowledged at once in its HTTP thread; answers come from lazy listeners.

A lazy listener runs on the worker pool after the ack, so Slack gets its response within 3 seconds
even while the model is still loading, and 20 simultaneous questions simply queue.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from slack_bolt import Ack, App
from slack_sdk import WebClient

from index import Context, EmptyQuestion, FilterError, Index, SearchResult
from intake.adding import add_urls

from . import blocks
from .button_state import ButtonState, read_button
from .channel_commands import ChannelCommands, channel_command
from .dedupe import EventClaims
from .digest_commands import DigestCommands
from .digests import DigestStore
from .feedback import record_feedback
from .follow_blocks import ACTION_UNFOLLOW
from .follow_commands import FollowCommands
from .follows import FollowStore
from .home import publish_home
from .index_commands import IndexCommands
from .questions import question_from
from .reindex import Reindexer
from .replies import post, react, respond
from .scopes import Scopes
from .threads import earlier_questions

log = logging.getLogger("newsbot.listeners")

WORKING_REACTION = "eyes"
# a DM message is a question when plain, sent with a file, or a thread reply also sent to the conversation
QUESTION_SUBTYPES = (None, "file_share", "thread_broadcast")
ANY_EVENT = re.compile(r".*")


def _ack(ack: Ack) -> None:
    """Acknowledge an event or button click; the work happens in a lazy listener."""
    ack()


_URL_LIKE = re.compile(r"^<?(https?://\S+|[\w-]+(\.[\w-]+)+(/\S*)?)>?$", re.IGNORECASE)


def _add_command(text: str) -> list[str] | None:
    """The URLs of `/news add <url> ...` (empty for a bare `add`); None when the text is a question.

    "add" followed by anything that is not a link ("add more troops?") is a question like any other.
    """
    words = text.split()
    if not words or words[0].lower() != "add":
        return None
    links = [word.split("|", 1)[0].strip("<>") for word in words[1:]]
    return links if all(_URL_LIKE.match(word) for word in words[1:]) else None


def _is_user_dm(event: dict) -> bool:
    """A new message a person sent the bot in a DM, files attached or not (not an edit, a deletion or a bot's)."""
    return (
        event.get("channel_type") == "im"
        and event.get("subtype") in QUESTION_SUBTYPES
        and not event.get("bot_id")
    )


def _ack_other_event(ack: Ack, event: dict) -> None:
    """An event type nothing here listens to (e.g. `tokens_revoked`, sent to every app): a 404 would be retried."""
    log.debug("acknowledged a %s event, which the bot does not use", str(event.get("type"))[:50])
    ack()


def _is_dm_channel(channel: str) -> bool:
    """DM channel ids start with D; answers there go in the conversation, not in a thread."""
    return channel.startswith("D")


def _reply_thread(body: dict) -> str | None:
    """Where a reply to a clicked public message goes: its thread in a channel, the conversation in a DM."""
    container, message = body.get("container", {}), body.get("message", {})
    if container.get("is_ephemeral"):
        return None
    if message.get("thread_ts"):
        return message["thread_ts"]
    return None if _is_dm_channel(container.get("channel_id", "")) else message.get("ts")


def _clicked_channel(body: dict) -> str | None:
    """The channel of a clicked message (block_actions carry it twice; either may be missing)."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return channel if isinstance(channel, str) else None


class Listeners:
    """The bot's behaviour on Slack, sharing one index, one event de-duplicator and one reindexer."""

    def __init__(
        self,
        index: Index,
        admins: frozenset[str],
        deduper: EventClaims,
        reindexer: Reindexer,
        add_admins_only: bool = False,
        follow_store: FollowStore | None = None,
        digest_store: DigestStore | None = None,
    ) -> None:
        self.index = index
        self.deduper = deduper
        self.index_commands = IndexCommands(admins, reindexer, add_admins_only)
        self.scopes = Scopes(index)
        self.follows = FollowCommands(follow_store or FollowStore(index), admins)
        self.commands = ChannelCommands(self.scopes, self.follows, DigestCommands(digest_store or DigestStore(index)), admins)

    def register(self, app: App) -> None:
        """Attach a listener to every event, command and action the manifest subscribes to."""
        app.event("app_mention")(ack=_ack, lazy=[self.answer_mention])
        app.event("message", matchers=[_is_user_dm])(ack=_ack, lazy=[self.answer_dm])
        app.event("message")(_ack)  # channel messages, edits, bots: nothing to do, but Slack needs a 200
        app.event("app_home_opened")(ack=_ack, lazy=[self.show_home])
        app.command("/news")(ack=self.ack_news, lazy=[self.answer_news])
        app.action(blocks.ACTION_UP)(ack=_ack, lazy=[self.vote])
        app.action(blocks.ACTION_DOWN)(ack=_ack, lazy=[self.vote])
        app.action(blocks.ACTION_MORE)(ack=_ack, lazy=[self.more_results])
        app.action(blocks.ACTION_SHARE)(ack=_ack, lazy=[self.share])
        app.action(ACTION_UNFOLLOW)(ack=_ack, lazy=[self.follows.clicked_unfollow])
        app.event(ANY_EVENT)(_ack_other_event)  # last: only events no listener above took

    # --- questions in conversations ---------------------------------------------------------------------

    def answer_mention(self, body: dict, event: dict, client: WebClient, context: dict) -> None:
        """@Newsbot in a channel: answer in the mention's thread."""
        if _is_dm_channel(event.get("channel", "")):
            return  # a mention inside a DM also arrives as a message event, answered there
        thread_ts = event.get("thread_ts") or event["ts"]
        self._answer_in_conversation(body, event, client, context.get("bot_user_id"), thread_ts)

    def answer_dm(self, body: dict, event: dict, client: WebClient, context: dict) -> None:
        """A direct message: answer in the conversation (in the thread if the question was in one)."""
        self._answer_in_conversation(body, event, client, context.get("bot_user_id"), event.get("thread_ts"))

    def _answer_in_conversation(
        self, body: dict, event: dict, client: WebClient, bot_user_id: str | None, thread_ts: str | None
    ) -> None:
        """Answer once per event id, with a working reaction, and an apology in the same place on failure."""
        event_id = body.get("event_id")
        if not self.deduper.claim(event_id):
            log.info("event %s was delivered again; it is already answered or being answered", event_id)
            return
        channel, ts = event["channel"], event["ts"]
        answered = False
        react(client, channel, ts, WORKING_REACTION, add=True)
        try:
            question = question_from(event.get("text", ""), bot_user_id)
            wants_help = question.lower() in ("", "help", "help?")
            command = channel_command(question)
            if wants_help:
                message = blocks.help_message(self._article_count())
            elif command is not None:  # "@Newsbot follow …": follows, digests and scopes belong to the conversation
                message = self.commands.run(*command, channel, event.get("user"), client)
            else:
                earlier: tuple[str, ...] = ()
                if event.get("thread_ts") and event["thread_ts"] != ts:  # a reply: read with the thread
                    earlier = earlier_questions(
                        client, channel, event["thread_ts"], ts, bot_user_id, direct=_is_dm_channel(channel)
                    )
                message = self._answer(question, context=self._context(channel, earlier))
            post(client, channel, message, thread_ts)
            answered = True
        except Exception:
            log.exception("could not answer event %s in %s", event_id, channel)
            self._apologize(lambda: post(client, channel, blocks.text_message(blocks.APOLOGY), thread_ts))
        finally:
            self.deduper.finish(event_id, answered)
            react(client, channel, ts, WORKING_REACTION, add=False)

    def _context(self, channel: str | None, earlier: tuple[str, ...] = ()) -> Context:
        """What a question in `channel` is read with: the thread's earlier questions and the channel's scope."""
        return Context(earlier=earlier, scope=self.scopes.filters(channel))

    def _answer(self, question: str, offset: int = 0, context: Context = Context(), **layout: object) -> dict:
        """Search and lay out the answer message."""
        started = time.monotonic()
        try:
            result: SearchResult = self.index.search(question, k=blocks.PAGE_SIZE, offset=offset, context=context)
        except FilterError as exc:
            return blocks.text_message(blocks.escape(f"{exc}. Filters: source: site: after: before: on: during: (and -source: -site:)."))
        except EmptyQuestion:
            return blocks.text_message("Ask a question as well as the filters, e.g. `why did NATO expel the diplomats? source:reuters`.")
        log.info("answered with %d quotes in %.2fs", len(result.answers), time.monotonic() - started)
        return blocks.answer_message(result, offset=offset, earlier=context.earlier, **layout)

    def _article_count(self) -> int | None:
        """How many articles the help text can promise (None before the first index)."""
        return self.index.stats().articles if self.index.exists() else None

    @staticmethod
    def _apologize(send: Callable[[], object]) -> None:
        """Send the apology; if even that fails, log it and give up (the server must keep serving)."""
        try:
            send()
        except Exception:
            log.exception("could not send the apology either")

    # --- /news --------------------------------------------------------------------------------------------

    def ack_news(self, ack: Ack, command: dict) -> None:
        """Acknowledge `/news` within Slack's 3 seconds: help and refusals right away, everything else later."""
        text = command.get("text", "").strip()
        word = text.lower()
        if word in ("", "help"):
            ack(**blocks.help_message())
        elif word == "reindex":
            ack(**self.index_commands.start_reindex(command))
        elif word == "stats" or channel_command(text) is not None:
            ack()
        elif _add_command(text) is not None:
            ack(**self.index_commands.ack_add(command, _add_command(text)))
        else:
            ack(text=f":mag: Looking for “{blocks.escape(blocks.shorten(text, 200))}” in the news…")

    def answer_news(self, command: dict, client: WebClient) -> None:
        """The private answer to `/news <question>` (or `/news stats`), sent to the command's `response_url`."""
        text = command.get("text", "").strip()
        if text.lower() in ("", "help", "reindex") or (_add_command(text) is not None and not self.index_commands.may_add(command)):
            return  # already answered in the ack
        response_url = command["response_url"]
        try:
            question = question_from(text)
            urls = _add_command(text)
            subcommand = channel_command(question)
            if urls is not None:
                message = blocks.added_message(add_urls(self.index, urls)) if urls else blocks.help_message()
            elif text.lower() == "stats":
                message = blocks.stats_message(self.index.stats() if self.index.exists() else None)
            elif subcommand is not None:
                message = self.commands.run(*subcommand, command.get("channel_id") or "", command.get("user_id"), client)
            elif question:
                context = self._context(command.get("channel_id"))
                message = self._answer(question, context=context, shareable=True, show_question=True)
            else:
                message = blocks.help_message(self._article_count())
            respond(response_url, message)
        except Exception:
            log.exception("could not answer /news")
            self._apologize(lambda: respond(response_url, blocks.text_message(blocks.APOLOGY)))

    # --- buttons ------------------------------------------------------------------------------------------

    def _clicked(self, body: dict) -> ButtonState | None:
        """The state the clicked button carries; None, after a polite private reply, if the bot did not write it."""
        action = body["actions"][0]
        state = read_button(action.get("value"))
        if state is None:
            log.warning("a click on %s carried a value the bot never wrote; replied that it cannot be used",
                        action.get("action_id"))
            response_url = body.get("response_url")
            if isinstance(response_url, str):
                self._apologize(lambda: respond(response_url, blocks.text_message(blocks.UNREADABLE_BUTTON)))
        return state

    def vote(self, body: dict) -> None:
        """👍 or 👎: store the vote with the question and the passages shown, then thank the user privately."""
        state = self._clicked(body)
        if state is None:
            return
        vote = "up" if body["actions"][0]["action_id"] == blocks.ACTION_UP else "down"
        user = body.get("user", {}).get("id")
        try:
            record_feedback(self.index, user, state.question, state.passages, vote)
            respond(body["response_url"], blocks.text_message("Thanks for the feedback!"))
        except Exception:
            log.exception("could not record feedback")
            self._apologize(lambda: respond(body["response_url"], blocks.text_message(blocks.APOLOGY)))

    def more_results(self, body: dict) -> None:
        """The next answers, where the clicked message is: privately, in its thread, or in the DM."""
        state = self._clicked(body)
        if state is None:
            return
        private = bool(body.get("container", {}).get("is_ephemeral"))
        try:
            context = self._context(_clicked_channel(body), state.earlier)
            answer = self._answer(state.question, offset=state.offset, context=context,
                                  shareable=private, show_question=private)
            respond(body["response_url"], answer, public=not private, thread_ts=_reply_thread(body))
        except Exception:
            log.exception("could not show more results")
            self._apologize(lambda: respond(body["response_url"], blocks.text_message(blocks.APOLOGY)))

    def share(self, body: dict) -> None:
        """Post a private answer publicly in the channel, saying who shared it."""
        state = self._clicked(body)
        if state is None:
            return
        user = body.get("user", {}).get("id")
        try:
            context = self._context(_clicked_channel(body), state.earlier)
            answer = self._answer(state.question, offset=state.offset, context=context, shared_by=user)
            respond(body["response_url"], answer, public=True)
        except Exception:
            log.exception("could not share an answer")
            self._apologize(lambda: respond(body["response_url"], blocks.text_message(blocks.APOLOGY)))

    # --- App Home -------------------------------------------------------------------------------------------

    def show_home(self, event: dict, client: WebClient) -> None:
        """Publish the Home tab when a user opens it."""
        if event.get("tab") != "home":
            return
        try:
            publish_home(client, self.index, event["user"])
        except Exception:
            log.exception("could not publish the Home tab")
