"""`newsbot socket` end to end: Socket Mode over a real WebSocket to the fake Slack, answers through its Web API."""

from __future__ import annotations

import pytest
from botkit import (  # noqa: F401  (bot_corpus is a fixture)
    BOT_TOKEN,
    NATO_QUESTION,
    NATO_QUOTE,
    BotProcess,
    bot_corpus,
    command_payload,
    event_payload,
    mention_event,
    request,
)
from fakeslack import SOCKET_ACK, FakeSlack

APP_TOKEN = "xapp-1-A0NEWSBOT-1-NotARealAppToken"


@pytest.fixture(scope="module")
def socket_bot(bot_corpus, tmp_path_factory):  # noqa: F811
    fake = FakeSlack.start(BOT_TOKEN, app_token=APP_TOKEN)
    bot = BotProcess(bot_corpus, fake, tmp_path_factory.mktemp("socket"), "socket", SLACK_APP_TOKEN=APP_TOKEN)
    try:
        bot.wait_ready()  # PORT is set, so /healthz is served in Socket Mode too
        yield bot, fake
    finally:
        code = bot.stop()
        fake.close()
    assert code == 0, bot.log()
    assert APP_TOKEN not in bot.log() and BOT_TOKEN not in bot.log()


def acked(fake: FakeSlack, envelope_id: str):
    return fake.wait_for(lambda c: c.method == SOCKET_ACK and c.params.get("envelope_id") == envelope_id)[0]


def test_mention_over_socket_mode_is_acked_and_answered_in_thread(socket_bot):
    bot, fake = socket_bot
    event = mention_event(NATO_QUESTION)
    envelope = fake.send_envelope("events_api", event_payload(event))
    acked(fake, envelope)
    answer = fake.wait_for(lambda c: c.method == "chat.postMessage" and c.params.get("thread_ts") == event["ts"])[0]
    assert NATO_QUOTE in answer.mrkdwn()
    assert fake.calls("apps.connections.open")[0].authorization == f"Bearer {APP_TOKEN}"


def test_news_over_socket_mode_acks_with_payload_then_answers(socket_bot):
    bot, fake = socket_bot
    envelope = fake.send_envelope("slash_commands", command_payload(NATO_QUESTION, fake.response_url("socket-cmd")))
    ack = acked(fake, envelope)
    assert "Looking for" in ack.params["payload"]["text"]
    answer = fake.wait_for(lambda c: c.method == "response_url" and c.name == "socket-cmd")[0]
    assert NATO_QUOTE in answer.mrkdwn() and answer.params["response_type"] == "ephemeral"


def test_no_events_endpoint_in_socket_mode(socket_bot):
    bot, _ = socket_bot
    assert request("POST", f"{bot.url}/slack/events", "{}", {"Content-Type": "application/json"}).status == 404
