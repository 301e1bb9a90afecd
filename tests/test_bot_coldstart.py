"""`/news` from a cold start: Slack gives up on an ack after 3 seconds, and loading the model takes longer than that."""

from __future__ import annotations

from botkit import BOT_TOKEN, NATO_QUESTION, NATO_QUOTE, BotProcess, SlackSender, bot_corpus, request  # noqa: F401
from fakeslack import FakeSlack

ACK_LIMIT_SECONDS = 3.0  # Slack's own limit for acknowledging a slash command


def test_news_acks_within_3_seconds_of_a_cold_start_then_answers(bot_corpus, tmp_path):  # noqa: F811
    fake = FakeSlack.start(BOT_TOKEN)
    bot = BotProcess(bot_corpus, fake, tmp_path)
    try:
        bot.wait_listening()
        health = request("GET", f"{bot.url}/healthz")
        reply = SlackSender(bot.url, fake).command(NATO_QUESTION, "cold")
        assert health.status == 503, "the model should still be loading: this must measure a cold start"
        assert reply.status == 200
        assert reply.seconds < ACK_LIMIT_SECONDS, f"ack took {reply.seconds:.2f}s"
        answer = fake.wait_for(lambda c: c.method == "response_url" and NATO_QUOTE in c.mrkdwn(), timeout=120)[0]
        assert answer.params["response_type"] == "ephemeral"
        bot.wait_ready()
    finally:
        code = bot.stop()
        fake.close()
    assert code == 0, bot.log()
