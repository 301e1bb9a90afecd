"""Button clicks: 👍/👎, More results, Share, and Unfollow. Each checks that the button's value is one the bot
wrote (`button_state`) before acting on it, and answers where the clicked message is."""

from __future__ import annotations

import logging

from slack_bolt import App

from bot.follows.blocks import ACTION_UNFOLLOW
from bot.slack import blocks
from bot.slack.answering import apologize
from bot.slack.button_state import ButtonState, read_button
from bot.slack.listeners.events import ack_now, is_dm_channel
from bot.slack.replies import respond
from bot.slack.services import Services
from bot.state.feedback import record_feedback

log = logging.getLogger("newsbot.actions")


def reply_thread(body: dict) -> str | None:
    """Where a reply to a clicked public message goes: its thread in a channel, the conversation in a DM."""
    container, message = body.get("container", {}), body.get("message", {})
    if container.get("is_ephemeral"):
        return None
    if message.get("thread_ts"):
        return message["thread_ts"]
    return None if is_dm_channel(container.get("channel_id", "")) else message.get("ts")


def clicked_channel(body: dict) -> str | None:
    """The channel of a clicked message (block_actions carry it twice; either may be missing)."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return channel if isinstance(channel, str) else None


class AnswerActions:
    """The buttons under an answer."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _clicked(self, body: dict) -> ButtonState | None:
        """The state the clicked button carries; None, after a polite private reply, if the bot did not write it."""
        action = body["actions"][0]
        state = read_button(action.get("value"))
        if state is None:
            log.warning("a click on %s carried a value the bot never wrote; replied that it cannot be used",
                        action.get("action_id"))
            response_url = body.get("response_url")
            if isinstance(response_url, str):
                apologize(lambda: respond(response_url, blocks.text_message(blocks.UNREADABLE_BUTTON)))
        return state

    def vote(self, body: dict) -> None:
        """👍 or 👎: store the vote with the question and the passages shown, then thank the user privately."""
        state = self._clicked(body)
        if state is None:
            return
        vote = "up" if body["actions"][0]["action_id"] == blocks.ACTION_UP else "down"
        user = body.get("user", {}).get("id")
        try:
            record_feedback(self.services.index, user, state.question, state.passages, vote)
            respond(body["response_url"], blocks.text_message("Thanks for the feedback!"))
        except Exception:
            log.exception("could not record feedback")
            apologize(lambda: respond(body["response_url"], blocks.text_message(blocks.APOLOGY)))

    def more_results(self, body: dict) -> None:
        """The next answers, where the clicked message is: privately, in its thread, or in the DM."""
        state = self._clicked(body)
        if state is None:
            return
        private = bool(body.get("container", {}).get("is_ephemeral"))
        answers = self.services.answers
        try:
            context = answers.context(clicked_channel(body), state.earlier)
            answer = answers.answer(state.question, offset=state.offset, context=context, shareable=private, show_question=private)
            respond(body["response_url"], answer, public=not private, thread_ts=reply_thread(body))
        except Exception:
            log.exception("could not show more results")
            apologize(lambda: respond(body["response_url"], blocks.text_message(blocks.APOLOGY)))

    def share(self, body: dict) -> None:
        """Post a private answer publicly in the channel, saying who shared it."""
        state = self._clicked(body)
        if state is None:
            return
        user = body.get("user", {}).get("id")
        answers = self.services.answers
        try:
            context = answers.context(clicked_channel(body), state.earlier)
            answer = answers.answer(state.question, offset=state.offset, context=context, shared_by=user)
            respond(body["response_url"], answer, public=True)
        except Exception:
            log.exception("could not share an answer")
            apologize(lambda: respond(body["response_url"], blocks.text_message(blocks.APOLOGY)))


def register(app: App, services: Services) -> None:
    """Every button the bot's messages carry."""
    actions = AnswerActions(services)
    app.action(blocks.ACTION_UP)(ack=ack_now, lazy=[actions.vote])
    app.action(blocks.ACTION_DOWN)(ack=ack_now, lazy=[actions.vote])
    app.action(blocks.ACTION_MORE)(ack=ack_now, lazy=[actions.more_results])
    app.action(blocks.ACTION_SHARE)(ack=ack_now, lazy=[actions.share])
    app.action(ACTION_UNFOLLOW)(ack=ack_now, lazy=[services.follows.clicked_unfollow])
