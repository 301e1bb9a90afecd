"""Follow matching and posting in process, on a real index (real model, FAISS, SQLite), posting over real
HTTP to the fake Slack API: scopes, per-answer evidence, and what a failed post does."""

from __future__ import annotations

import shutil

import pytest
from conftest import make_index, write_sourced_corpus
from fakeslack import FakeSlack
from slack_sdk import WebClient

from bot.follows.store import FollowStore
from bot.follows.worker import FollowWorker, worth_posting
from bot.state.scopes import Scopes
from index import Evidence

CHANNEL = "C0MATCH"
NATO_FOLLOW = "NATO expels Russian diplomats"


@pytest.fixture
def world(tmp_path, embedder, fake, engine_settings):
    """An empty index (SQLite or PostgreSQL) that the sourced articles arrive in after the follows are made."""
    fake.reset()
    staged = write_sourced_corpus(tmp_path / "staged")
    articles = tmp_path / "articles"
    articles.mkdir()
    index = make_index(tmp_path, embedder, articles=articles, **engine_settings)
    (articles / "old.txt").write_text("Old news\n\nThe harbour reopened after the storm, the port authority said.")
    index.update(progress=False)
    store = FollowStore(index)
    worker = FollowWorker(index, store, Scopes(index), WebClient(token=fake.token, base_url=fake.api_url), cap=5)

    def arrive() -> None:
        for path in staged.iterdir():
            shutil.copy(path, articles / path.name)
        index.update(progress=False)

    return index, store, worker, arrive


def posted(fake: FakeSlack) -> list:
    return [c for c in fake.calls("chat.postMessage") if c.params.get("channel") == CHANNEL]


def test_a_follow_in_a_scoped_channel_posts_only_from_its_scope(world, fake):
    index, store, worker, arrive = world
    Scopes(index).set(CHANNEL, "source:reuters", "U0ADMIN")
    store.add(CHANNEL, NATO_FOLLOW, "U0ALICE")
    store.add("C0OPEN", NATO_FOLLOW, "U0ALICE")
    arrive()
    worker.tick()
    scoped = posted(fake)
    open_posts = [c for c in fake.calls("chat.postMessage") if c.params.get("channel") == "C0OPEN"]
    assert len(scoped) == 1 and "Reuters" in scoped[0].mrkdwn() and "AP News" not in scoped[0].mrkdwn()
    assert any("AP News" in c.mrkdwn() for c in open_posts), "without a scope the other wire is reported too"


def test_an_unrelated_follow_posts_nothing_and_the_old_articles_never_match(world, fake):
    index, store, worker, arrive = world
    store.add(CHANNEL, "harbour storm port authority", "U0ALICE")  # only the old article is about it
    store.add(CHANNEL, "banana bread recipe", "U0ALICE")
    arrive()
    worker.tick()
    assert posted(fake) == []


def test_a_post_slack_refuses_for_good_is_dropped_and_a_passing_failure_retried(world, fake):
    index, store, worker, arrive = world
    follow = store.add(CHANNEL, NATO_FOLLOW, "U0ALICE")
    arrive()
    fake.fail("chat.postMessage", status=500, times=100)  # more than the client's retries: this tick fails
    worker.tick()
    assert posted(fake) == [] and store.owed(follow), "kept for the next tick"
    fake.reset()  # Slack is back
    worker.tick()
    assert posted(fake) and not store.owed(follow)
    fake.reset()
    other = store.add("C0GONE", NATO_FOLLOW, "U0ALICE")
    with store._conn() as conn:  # made after the arrivals: let it read them as if it had been there before
        conn.execute("UPDATE follows SET seen = 0 WHERE id = ?", (other.id,))
    fake.fail("chat.postMessage", error="channel_not_found", times=10)
    worker.tick()
    gone = store.get(other.id)
    assert gone.paused == "channel_not_found", "a channel that is gone pauses its follow: no post, no search"
    tries = len([c for c in fake.calls("chat.postMessage", ok=None) if c.params.get("channel") == "C0GONE"])
    worker.tick()
    assert len([c for c in fake.calls("chat.postMessage", ok=None) if c.params.get("channel") == "C0GONE"]) == tries == 1


def test_a_follow_its_channel_refuses_is_paused_its_creator_told_once_and_resumed(world, fake):
    index, store, worker, arrive = world
    follow = store.add(CHANNEL, NATO_FOLLOW, "U0ALICE")
    searched = []
    search = index.search
    index.search = lambda *args, **kwargs: searched.append(args[0]) or search(*args, **kwargs)
    fake.fail("chat.postMessage", error="not_in_channel", times=1)  # the story's post; the DM then goes through
    arrive()
    worker.tick()
    paused = store.get(follow.id)
    assert paused.paused == "not_in_channel"
    dms = [c for c in fake.calls("chat.postMessage") if c.params.get("channel", "").startswith("D")]
    assert len(dms) == 1 and f"/news resume {follow.id}" in dms[0].params["text"]
    assert [c.params["users"] for c in fake.calls("conversations.open")] == ["U0ALICE"]
    searched.clear()
    (index.settings.articles_dir / "later.txt").write_text("NATO expels more Russian diplomats\n\nNATO expelled two more.")
    index.update(progress=False)
    worker.tick()
    assert searched == [] and len([c for c in fake.calls("chat.postMessage") if c.params["channel"].startswith("D")]) == 1
    assert store.resume(follow.id) and not store.resume(follow.id)
    worker.tick()
    assert searched and store.get(follow.id).paused is None


def test_the_same_question_followed_in_two_channels_is_searched_once_per_update(world, fake):
    index, store, worker, arrive = world
    for channel in ("C0ONE", "C0TWO", "C0THREE"):
        store.add(channel, NATO_FOLLOW, "U0ALICE")
    store.add("C0FOUR", "Nato expels  RUSSIAN diplomats", "U0BOB")  # the same question, spaced and cased otherwise
    searched = []
    search = index.search
    index.search = lambda *args, **kwargs: searched.append(args[0]) or search(*args, **kwargs)
    arrive()
    worker.tick()
    assert len(searched) == 1
    assert {c.params["channel"] for c in fake.calls("chat.postMessage")} == {"C0ONE", "C0TWO", "C0THREE", "C0FOUR"}


def test_an_answer_the_reader_did_not_read_is_not_posted_when_the_search_was_read():
    # Folding can bring up answers from past the reader's depth; they must not pass on the ranking's word alone.
    strong = dict(passage=0.7, sentence=0.7, lexical=1.0, known=1.0, indexed_sentences=60)
    assert worth_posting(Evidence(**strong, reading=3.0), read=True)
    assert not worth_posting(Evidence(**strong, reading=-1.0), read=True), "read, and not as an answer"
    assert not worth_posting(Evidence(**strong), read=True), "not read, though the search was"
    assert worth_posting(Evidence(**strong), read=False), "the reader off or busy: the ranking decides"
