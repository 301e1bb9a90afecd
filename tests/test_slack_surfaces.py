"""End to end over real HTTP (issue 29): Slack's AI-apps pane, the "Ask Newsbot about this" message shortcut, and
links shared in channels that collect them — a real `newsbot serve` on a real index, the fake Slack API, pages
served from a local HTTP server, every payload shaped as Slack sends it and every message's Block Kit validated."""

from __future__ import annotations

import json
import re
import time

import pytest
from botkit import (
    ADMIN,
    ALICE,
    NATO_QUESTION,
    BotProcess,
    Corpus,
    SlackSender,
    assert_valid_blocks,
    assistant_thread_event,
    buttons,
    channel_message_event,
    dm_event,
    edited_event,
    index_corpus,
    next_ts,
    pane_message_event,
    pane_root,
    rich_text,
    send_shortcut,
)
from conftest import SOURCED_ARTICLES, write_sourced_corpus
from fakeslack import BOT_ID, BOT_USER_ID, TEAM_ID, FakeSlack
from websites import Site, numbered_story

POST = "chat.postMessage"
DM, SCOPED, VIEWED, LINKS, SHARED = "D0PANE", "C0SCOPED", "C0VIEWED", "C0LINKS", "C0SHARED"
FOLLOW_UP = "and what did Russia say?"
TITLES = {f"{source} report" for source, *_ in SOURCED_ARTICLES.values()}
BOB = "U0BOB"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    base = tmp_path_factory.mktemp("surfaces")
    return index_corpus(Corpus(write_sourced_corpus(base / "articles"), base / "index"))


@pytest.fixture(scope="module")
def site() -> Site:
    return Site()


@pytest.fixture(scope="module")
def bot(corpus, fake, tmp_path_factory):
    process = BotProcess(corpus, fake, tmp_path_factory.mktemp("bot"), NEWSBOT_COLLECT_PRIVATE_URLS="1",
                         NEWSBOT_COLLECT_INTERVAL="0.3")
    with process.running():
        yield process


@pytest.fixture
def slack(bot, fake):
    """A sender; afterwards every message the bot sent is valid Block Kit with a plain-text fallback."""
    fake.reset()
    yield SlackSender(bot.url, fake)
    for call in fake.calls(ok=None):
        if call.method in (POST, "response_url", "chat.postEphemeral"):
            assert call.params.get("text"), f"no plain-text fallback: {call.dump()}"
            assert_valid_blocks(call.blocks)
        if call.method == "views.publish":
            assert_valid_blocks(call.params["view"]["blocks"])


def posted(fake: FakeSlack, channel: str, thread_ts: str | None, contains: str = "", count: int = 1):
    """The `count`-th message the bot posted there containing `contains`."""
    def match(c):
        where = c.params.get("channel") == channel and c.params.get("thread_ts") == thread_ts
        return c.ok and c.method == POST and where and contains in c.mrkdwn()

    return fake.wait_for(match, count=count)[count - 1]


def grey_lines(call) -> str:
    return json.dumps([b for b in call.blocks if b["type"] == "context"], ensure_ascii=False)


def quotes(call) -> list[str]:
    return [b["text"]["text"] for b in call.blocks if b["type"] == "section" and b["text"]["text"].startswith(">")]


# --- the assistant pane ------------------------------------------------------------------------------------------


def open_pane(slack: SlackSender, fake: FakeSlack, viewing: str | None = None) -> str:
    """The user opens a new pane thread (beside `viewing`); the thread's ts, once the bot has greeted."""
    thread_ts = next_ts()
    fake.add_message(DM, pane_root(DM, thread_ts))
    assert slack.event(assistant_thread_event("assistant_thread_started", DM, thread_ts, viewing=viewing)).status == 200
    posted(fake, DM, thread_ts, "Ask me about the news")
    return thread_ts


def ask_in_pane(slack: SlackSender, fake: FakeSlack, text: str, thread_ts: str, count: int = 1):
    """A question typed in the pane thread; the bot's `count`-th answer there (the greeting is the first post)."""
    event = pane_message_event(text, DM, thread_ts)
    fake.add_message(DM, event)
    assert slack.event(event).status == 200
    return posted(fake, DM, thread_ts, count=count + 1)


def test_the_pane_greets_and_suggests_the_biggest_stories_of_the_index(slack, fake):
    thread_ts = open_pane(slack, fake)
    greeting = posted(fake, DM, thread_ts)
    assert "verbatim quotes from 3 articles" in greeting.mrkdwn()
    prompts = fake.wait_for(lambda c: c.method == "assistant.threads.setSuggestedPrompts")[0]
    assert prompts.params["channel_id"] == DM and prompts.params["thread_ts"] == thread_ts
    shown = prompts.params["prompts"]
    assert shown[-1] == {"title": "What's new since yesterday?", "message": "What's new since yesterday?"}
    named = [re.fullmatch(r"What happened with (.+)\?", p["message"]) for p in shown[:-1]]
    assert len(named) >= 2 and all(m and m.group(1) in TITLES for m in named), shown
    assert len(shown) <= 4 and all(len(p["title"]) <= 60 for p in shown)
    assert not fake.calls("reactions.add"), "the pane shows a status, not a reaction"


def test_a_question_in_the_pane_gets_a_status_a_title_and_the_answer_and_a_follow_up_reads_the_thread(slack, fake):
    thread_ts = open_pane(slack, fake)
    answer = ask_in_pane(slack, fake, NATO_QUESTION, thread_ts)
    assert quotes(answer) and {"feedback_up", "feedback_down", "more_results"} <= set(buttons(answer))
    status = fake.calls("assistant.threads.setStatus")
    assert len(status) == 1 and status[0].at < answer.at
    assert status[0].params["channel_id"] == DM and status[0].params["thread_ts"] == thread_ts
    passages = re.fullmatch(r"Reading ([\d,]+) passages…", status[0].params["status"])
    assert passages and int(passages.group(1).replace(",", "")) > 3
    titles = fake.calls("assistant.threads.setTitle")
    assert [(c.params["channel_id"], c.params["thread_ts"], c.params["title"]) for c in titles] == [
        (DM, thread_ts, NATO_QUESTION)
    ]

    follow_up = ask_in_pane(slack, fake, FOLLOW_UP, thread_ts, count=2)
    assert f"Read with this thread's earlier question “{NATO_QUESTION}”" in grey_lines(follow_up)
    assert len(fake.calls("assistant.threads.setTitle")) == 1, "the thread keeps its first question's title"
    assert len(fake.calls("assistant.threads.setStatus")) == 2


def test_the_pane_searches_within_the_scope_of_the_channel_being_viewed(slack, fake):
    slack.command("scope source:reuters", "scope", user=ADMIN, channel=SCOPED)
    fake.wait_for(lambda c: c.name == "scope" and "Scope set" in c.mrkdwn())
    thread_ts = open_pane(slack, fake, viewing=SCOPED)
    assert "`source:reuters`" in posted(fake, DM, thread_ts).mrkdwn()
    answer = ask_in_pane(slack, fake, NATO_QUESTION, thread_ts)
    assert "this channel's scope" in grey_lines(answer) and "AP News" not in grey_lines(answer)

    # the user opens another channel beside the pane: its (empty) scope applies from then on
    changed = assistant_thread_event("assistant_thread_context_changed", DM, thread_ts, viewing=VIEWED)
    assert slack.event(changed).status == 200
    again = ask_in_pane(slack, fake, "why were the diplomats expelled?", thread_ts, count=2)
    assert "scope" not in grey_lines(again)


def test_whats_new_in_the_pane_lists_the_newest_stories(slack, fake):
    thread_ts = open_pane(slack, fake)
    news = ask_in_pane(slack, fake, "What's new since yesterday?", thread_ts)
    assert "biggest" in news.mrkdwn() and quotes(news)
    assert any(title in news.mrkdwn() for title in TITLES)


def test_a_threaded_dm_the_pane_did_not_start_is_answered_as_any_dm(slack, fake):
    root = dm_event(NATO_QUESTION, channel=DM)
    fake.add_message(DM, root)
    reply = dm_event(FOLLOW_UP, channel=DM, thread_ts=root["ts"])
    fake.add_message(DM, reply)
    assert slack.event(reply).status == 200
    answer = posted(fake, DM, root["ts"])
    assert quotes(answer)
    assert not fake.calls("assistant.threads.setStatus")
    fake.wait_for(lambda c: c.method == "reactions.remove" and c.params["timestamp"] == reply["ts"])


def test_a_re_delivered_pane_event_is_handled_once(slack, fake):
    thread_ts = next_ts()
    started = assistant_thread_event("assistant_thread_started", DM, thread_ts)
    body_id = f"EvPANE{thread_ts.replace('.', '')}"
    assert slack.event(started, event_id=body_id).status == 200
    assert slack.event(started, event_id=body_id, retry_num=1).status == 200
    posted(fake, DM, thread_ts, "Ask me about the news")
    fake.wait_for(lambda c: c.method == "assistant.threads.setSuggestedPrompts")
    event = pane_message_event(NATO_QUESTION, DM, thread_ts)
    slack.event(event, event_id=f"EvQ{thread_ts.replace('.', '')}")
    slack.event(event, event_id=f"EvQ{thread_ts.replace('.', '')}", retry_num=1)
    posted(fake, DM, thread_ts, count=2)
    # once the answer is posted, any re-delivery has been claimed: one greeting, one answer
    assert len([c for c in fake.calls(POST) if c.params.get("thread_ts") == thread_ts]) == 2


# --- the message shortcut ----------------------------------------------------------------------------------------


def persons_message(text: str, user: str = BOB, **fields) -> dict:
    return {"client_msg_id": f"m-{next_ts()}", "type": "message", "text": text, "user": user, "ts": next_ts(),
            "team": TEAM_ID, "blocks": rich_text(text), **fields}


def test_the_shortcut_answers_privately_with_share(slack, fake):
    reply = send_shortcut(slack, persons_message(NATO_QUESTION), "shortcut")
    assert reply.status == 200 and reply.seconds < 3
    answer = fake.wait_for(lambda c: c.method == "response_url" and c.name == "shortcut")[0]
    assert answer.params["response_type"] == "ephemeral" and quotes(answer)
    assert "share" in buttons(answer) and NATO_QUESTION in answer.mrkdwn()
    assert not fake.calls(POST), "nothing is posted in the channel"


def test_a_short_message_with_a_long_tracking_link_is_not_too_long(slack, fake):
    tracking = "https://news.example.com/world/nato-expels-russian-diplomats/?utm=" + "x" * 2500
    send_shortcut(slack, persons_message(f"why did NATO expel them? <{tracking}|Reuters story>"), "tracked")
    answer = fake.wait_for(lambda c: c.method == "response_url" and c.name == "tracked")[0]
    assert "too long" not in answer.mrkdwn() and quotes(answer)


def test_the_shortcut_reads_a_bare_link_by_the_words_of_its_address(slack, fake):
    message = persons_message("<https://news.example.com/world/nato-expels-russian-diplomats-over-spying-2021/>")
    send_shortcut(slack, message, "link")
    answer = fake.wait_for(lambda c: c.method == "response_url" and c.name == "link")[0]
    assert "nato expels russian diplomats over spying" in answer.mrkdwn() and quotes(answer)


@pytest.mark.parametrize(
    "message, says",
    [
        ({"type": "message", "subtype": "bot_message", "bot_id": "B0RSS", "username": "rss", "text": NATO_QUESTION},
         "posted by an app"),
        ({"type": "message", "bot_id": BOT_ID, "user": BOT_USER_ID, "text": NATO_QUESTION}, "posted by an app"),
        ({"type": "message", "user": BOB, "text": "why " * 1000}, "too long to ask about (3,999 characters"),
        ({"type": "message", "user": BOB, "text": "why " * 2500}, "too long to ask about (10,000 characters"),
        ({"type": "message", "user": BOB, "text": "", "files": [{"id": "F1"}]}, "no words I can ask about"),
    ],
)
def test_the_shortcut_on_a_message_it_cannot_ask_about_says_so_in_one_line(slack, fake, message, says):
    send_shortcut(slack, {**message, "ts": next_ts()}, "refused")
    reply = fake.wait_for(lambda c: c.method == "response_url" and c.name == "refused")[0]
    assert says in reply.mrkdwn() and len(reply.blocks) == 1 and reply.params["response_type"] == "ephemeral"


def test_the_shortcut_falls_back_to_an_ephemeral_post_then_to_a_dm(slack, fake):
    fake.fail("response_url", status=404)
    send_shortcut(slack, persons_message(NATO_QUESTION), "gone", channel="C0PRIVATE")
    ephemeral = fake.wait_for(lambda c: c.method == "chat.postEphemeral")[0]
    assert (ephemeral.params["channel"], ephemeral.params["user"]) == ("C0PRIVATE", ALICE) and quotes(ephemeral)
    assert "share" in buttons(ephemeral)

    fake.reset()
    fake.fail("response_url", status=404)
    fake.fail("chat.postEphemeral", error="channel_not_found")
    send_shortcut(slack, persons_message(NATO_QUESTION), "gone", channel="C0PRIVATE")
    dm = fake.wait_for(lambda c: c.method == POST)[0]
    opened = fake.calls("conversations.open")
    assert opened and opened[0].params["users"] == ALICE and dm.params["channel"].startswith("D")
    assert quotes(dm) and "share" not in buttons(dm), "Share would post the answer in the DM itself"


# --- links shared in channels -------------------------------------------------------------------------------------


def collect_on(slack: SlackSender, fake: FakeSlack, channel: str = LINKS) -> None:
    slack.command("collect on", f"collect-{channel}", user=ADMIN, channel=channel)
    fake.wait_for(lambda c: c.name == f"collect-{channel}" and "Collecting links" in c.mrkdwn())


def reacted(fake: FakeSlack, ts: str, count: int = 1) -> list:
    return fake.wait_for(
        lambda c: c.method == "reactions.add" and c.params["timestamp"] == ts and c.params["name"] == "newspaper",
        count=count,
    )


def share(slack: SlackSender, text: str, links: tuple[str, ...], channel: str = LINKS, **fields) -> dict:
    event = channel_message_event(text, channel, links, **fields)
    assert slack.event(event).status == 200
    return event


def test_collecting_is_switched_by_admins_and_shown_in_scope_and_app_home(slack, fake):
    slack.command("collect on", "alice", user=ALICE, channel="C0SWITCH")
    assert "only Newsbot admins" in fake.wait_for(lambda c: c.name == "alice")[0].mrkdwn()
    slack.command("scope", "before", user=ALICE, channel="C0SWITCH")
    assert "not collected" in fake.wait_for(lambda c: c.name == "before")[0].mrkdwn()
    collect_on(slack, fake, "C0SWITCH")
    slack.command("scope", "after", user=ALICE, channel="C0SWITCH")
    assert "Links shared here are collected" in fake.wait_for(lambda c: c.name == "after")[0].mrkdwn()
    slack.event({"type": "app_home_opened", "user": ALICE, "channel": "D0HOME", "tab": "home",
                 "event_ts": next_ts()})
    home = fake.wait_for(lambda c: c.method == "views.publish")[0]
    assert "<#C0SWITCH>" in home.mrkdwn() and "Collecting shared links" in home.mrkdwn()
    slack.command("collect off", "off", user=ADMIN, channel="C0SWITCH")
    assert "Stopped collecting" in fake.wait_for(lambda c: c.name == "off")[0].mrkdwn()


def test_a_shared_link_is_fetched_once_indexed_marked_and_answerable(slack, fake, site):
    collect_on(slack, fake)
    url = site.article("/harbour-17", numbered_story(17))
    first = share(slack, "the harbour bulletin is out", (url,))
    reacted(fake, first["ts"])
    # Slack re-delivers the event, adds a preview (message_changed), and someone shares the same page again
    slack.event(first, retry_num=1)
    slack.event(edited_event(first, "the harbour bulletin is out", (url,), unfurl=True))
    second = share(slack, "same story", (url + "#top",), user=BOB)
    reacted(fake, second["ts"])
    assert site.hits("/harbour-17") == 1, "an article shared twice is fetched and indexed once"
    assert len(fake.calls("reactions.add")) == 2 and not fake.calls(POST), "one reaction each, no replies"

    slack.command("how many container ships will the pilots guide through the northern channel?", "ask",
                  channel="C0ASK")
    answer = fake.wait_for(lambda c: c.name == "ask" and ">" in c.mrkdwn() and "Harbour" in c.mrkdwn())[0]
    assert "20 container ships" in answer.mrkdwn()


def test_only_peoples_links_in_collecting_channels_are_fetched(slack, fake, site):
    collect_on(slack, fake)
    for number, path in ((21, "/bot-link"), (22, "/elsewhere"), (23, "/own-answer"), (24, "/dm")):
        site.article(path, numbered_story(number))
    share(slack, "", (site.url("/bot-link"),), user="U0OTHERBOT", bot_id="B0OTHER",
          bot_profile={"id": "B0OTHER", "name": "rss"})
    share(slack, "", (site.url("/own-answer"),), user=BOT_USER_ID, bot_id=BOT_ID)
    share(slack, "look", (site.url("/elsewhere"),), channel="C0NOTCOLLECTING")
    dm = channel_message_event("look", DM, (site.url("/dm"),), channel_type="im")
    slack.event(dm)
    fake.wait_for(lambda c: c.method == POST and c.params["channel"] == DM)  # the DM is a question, answered
    # a link collected after all of those proves the collector has been through the queue
    site.article("/harbour-25", numbered_story(25))
    last = share(slack, "and this", (site.url("/harbour-25"),))
    reacted(fake, last["ts"])
    assert [site.hits(p) for p in ("/bot-link", "/own-answer", "/elsewhere", "/dm")] == [0, 0, 0, 0]


def test_an_edit_that_adds_a_link_collects_only_the_new_one(slack, fake, site):
    collect_on(slack, fake)
    old, new = site.article("/harbour-31", numbered_story(31)), site.article("/harbour-32", numbered_story(32))
    message = share(slack, "bulletin", (old,))
    reacted(fake, message["ts"])
    slack.event(edited_event(message, "bulletins", (old, new)))
    reacted(fake, message["ts"], count=2)
    assert (site.hits("/harbour-31"), site.hits("/harbour-32")) == (1, 1)


def test_a_page_that_is_not_an_article_gets_no_reaction(slack, fake, site):
    collect_on(slack, fake)
    site.serve("/login", "<html><head><title>Sign in</title></head><body><form>Password</form></body></html>")
    not_news = share(slack, "log in here", (site.url("/login"),))
    site.article("/harbour-41", numbered_story(41))
    news = share(slack, "news", (site.url("/harbour-41"),))
    reacted(fake, news["ts"])
    assert site.hits("/login") == 1
    assert not [c for c in fake.calls("reactions.add") if c.params["timestamp"] == not_news["ts"]]


def test_two_serve_processes_collect_a_link_once(slack, fake, site, bot, corpus, tmp_path):
    collect_on(slack, fake)
    second = BotProcess(corpus, fake, tmp_path, NEWSBOT_COLLECT_PRIVATE_URLS="1", NEWSBOT_COLLECT_INTERVAL="0.3")
    with second.running():
        other = SlackSender(second.url, fake)
        url = site.article("/harbour-51", numbered_story(51))
        one = channel_message_event("bulletin", LINKS, (url,))
        two = channel_message_event("bulletin again", LINKS, (url,), user=BOB)
        for sender in (slack, other):  # each process hears both messages (Slack retried to the other one)
            assert sender.event(one, event_id=f"Ev{one['ts']}").status == 200
            assert sender.event(two, event_id=f"Ev{two['ts']}").status == 200
        reacted(fake, one["ts"])
        reacted(fake, two["ts"])
        # both collectors have run several times since; neither fetched again
        site.article("/harbour-52", numbered_story(52))
        later = share(slack, "later", (site.url("/harbour-52"),))
        reacted(fake, later["ts"])
        assert site.hits("/harbour-51") == 1
        assert len([c for c in fake.calls("reactions.add") if c.params["timestamp"] in (one["ts"], two["ts"])]) == 2


def test_a_link_shared_event_is_collected_like_the_message_and_one_still_in_the_composer_is_not(slack, fake, site):
    # A channel of its own: the earlier tests spent C0LINKS's ten fetches a minute (`NEWSBOT_COLLECT_PER_MINUTE`).
    collect_on(slack, fake, SHARED)
    url, draft = site.article("/harbour-61", numbered_story(61)), site.article("/harbour-62", numbered_story(62))
    composer = {"type": "link_shared", "channel": SHARED, "is_bot_user_member": True, "user": ALICE,
                "message_ts": "COMPOSER.1.2", "unfurl_id": f"{SHARED}.1.2.abc", "source": "composer",
                "links": [{"domain": "127.0.0.1", "url": draft}], "event_ts": next_ts()}
    assert slack.event(composer).status == 200
    message = channel_message_event("bulletin", SHARED, (url,))
    shared = {"type": "link_shared", "channel": SHARED, "is_bot_user_member": True, "user": ALICE,
              "message_ts": message["ts"], "unfurl_id": f"{SHARED}.{message['ts']}.x", "source": "conversations_history",
              "links": [{"domain": "127.0.0.1", "url": url}], "event_ts": next_ts()}
    assert slack.event(shared).status == 200
    reacted(fake, message["ts"])  # from link_shared alone: the message event has not come
    assert slack.event(message).status == 200  # the same link, from the message event too: queued once
    own = dict(shared, user=BOT_USER_ID, message_ts=next_ts(), event_ts=next_ts(),
               links=[{"domain": "127.0.0.1", "url": site.article("/harbour-63", numbered_story(63))}])
    assert slack.event(own).status == 200  # a link in the bot's own message
    time.sleep(1.5)  # several collector ticks
    assert (site.hits("/harbour-61"), site.hits("/harbour-62"), site.hits("/harbour-63")) == (1, 0, 0)
