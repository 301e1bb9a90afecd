"""Follows end to end: real `newsbot serve` processes and a real `newsbot watch` on one index, driven
over HTTP like Slack, posting to the fake Slack API. New article files dropped into the watched folder
are indexed by the watcher process and posted by the bot — once, even across restarts and with two
bot processes — and a burst is capped per hour."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest
from botkit import ADMIN, ALICE, NEWSBOT, SEEDS, BotProcess, Corpus, SlackSender, clean_env, index_corpus, mention_event
from fakeslack import FakeSlack

POST = "chat.postMessage"
CHANNEL = "C0FOLLOW"
BOB = "U0BOB"
CAP = 3
TICK = "0.3"  # seconds between the bot's looks at new arrivals
ZEBRA = (
    "Zebra crossing festival parade announced\n\n"
    "The town council said the zebra crossing festival will close the high street on Saturday for the parade. "
    "Organisers expect four thousand visitors and a brass band."
)
RECIPE = "Banana bread at its best\n\nMix flour, sugar and three ripe bananas, then bake the loaf for an hour at 180 degrees."


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    base = tmp_path_factory.mktemp("follows")
    corpus = Corpus(base / "articles", base / "index")
    shutil.copytree(SEEDS, corpus.articles)
    return index_corpus(corpus)


@pytest.fixture(scope="module")
def watcher(corpus, tmp_path_factory):
    """`newsbot watch` in its own process: it indexes, the bot processes post."""
    log_path = tmp_path_factory.mktemp("watch") / "watch.log"
    env = clean_env(NEWSBOT_INDEX_DIR=str(corpus.index_dir), NEWSBOT_ARTICLES_DIR=str(corpus.articles))
    with open(log_path, "wb") as log:
        process = subprocess.Popen([*NEWSBOT, "watch"], env=env, stdout=log, stderr=subprocess.STDOUT)
    yield process
    process.terminate()
    assert process.wait(timeout=60) == 0, log_path.read_text()


def start_bot(corpus: Corpus, fake: FakeSlack, workdir: Path) -> BotProcess:
    bot = BotProcess(corpus, fake, workdir, NEWSBOT_FOLLOW_INTERVAL=TICK, NEWSBOT_FOLLOW_POSTS_PER_HOUR=str(CAP))
    bot.wait_ready()
    return bot


@pytest.fixture
def bot(corpus, fake, watcher, tmp_path):
    fake.reset()
    process = start_bot(corpus, fake, tmp_path)
    yield process
    assert process.stop() == 0, process.log()


def arrivals(corpus: Corpus) -> int:
    with closing(sqlite3.connect(corpus.index_dir / "newsbot.sqlite")) as conn:
        try:
            return conn.execute("SELECT count(*) FROM arrivals").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def drop(corpus: Corpus, files: dict[str, str], timeout: float = 120) -> None:
    """Write article files into the watched folder and wait until the watcher has committed them."""
    before = arrivals(corpus)
    for name, text in files.items():
        (corpus.articles / name).write_text(text, encoding="utf-8")
    deadline = time.monotonic() + timeout
    while arrivals(corpus) < before + len(files):
        assert time.monotonic() < deadline, "the watcher did not index the new files"
        time.sleep(0.2)


def posts(fake: FakeSlack, channel: str = CHANNEL) -> list:
    return [c for c in fake.calls(POST) if c.params.get("channel") == channel and not c.params.get("thread_ts")]


def settle(seconds: float = 3.0) -> None:
    """Let the bot's follow loop run several times (NEWSBOT_FOLLOW_INTERVAL is 0.3 s)."""
    time.sleep(seconds)


def follow(slack: SlackSender, fake: FakeSlack, text: str, name: str, user: str = ALICE) -> str:
    slack.command(f"follow {text}", name, user=user, channel=CHANNEL)
    return fake.wait_for(lambda c: c.name == name)[0].mrkdwn()


@pytest.fixture
def slack_bot(bot, fake):
    return SlackSender(bot.url, fake), bot


def test_a_follow_posts_a_matching_new_article_once_and_an_unrelated_one_never(slack_bot, fake, corpus, tmp_path):
    slack, bot = slack_bot
    confirmed = follow(slack, fake, "zebra crossing festival parade", "follow")
    assert "Following “zebra crossing festival parade”" in confirmed and "/news unfollow" in confirmed
    drop(corpus, {"recipe.txt": RECIPE})
    settle()
    assert posts(fake) == [], "an unrelated article posts nothing"
    drop(corpus, {"zebra.txt": ZEBRA})
    story = fake.wait_for(lambda c: c.method == POST and c.params.get("channel") == CHANNEL)[0]
    shown = story.mrkdwn()
    assert "New on “zebra crossing festival parade”" in shown and f"<@{ALICE}>" in shown
    bold = [part for part in shown.split("*")[1::2] if part.strip()]
    assert bold and all(sentence in ZEBRA for sentence in bold), "the bold sentence is verbatim from the article"
    settle()
    assert len(posts(fake)) == 1, "posted once"
    # a restart reads the same follow and the same arrivals: nothing is posted again, new ones still are
    assert bot.stop() == 0
    fake.reset()
    again = start_bot(corpus, fake, tmp_path)
    try:
        settle()
        assert posts(fake) == []
        drop(corpus, {"zebra-late.txt": "Zebra crossing festival moved\n\nRain moved the zebra crossing festival parade "
                                        "to the sports hall, the council said on Friday."})
        fake.wait_for(lambda c: c.method == POST and c.params.get("channel") == CHANNEL)
        settle()
        assert len(posts(fake)) == 1
    finally:
        assert again.stop() == 0, again.log()


def burst_articles(count: int) -> dict[str, str]:
    """`count` distinct articles about the festival: each a different mix of facts, so none fold into another."""
    rng = random.Random(7)
    towns = ["Ashby", "Brill", "Corfe", "Dunster", "Eyam", "Fowey", "Goring", "Hawes", "Ilam", "Jarrow"]
    facts = [
        "police closed {street} to traffic from {hour} o'clock",
        "{n} volunteers painted new stripes on the {street} crossing",
        "a brass band of {n} players led the parade past the {place}",
        "the mayor of {town} cut a striped ribbon at the {place}",
        "{n} children walked the parade route dressed as zebras",
        "stalls near the {place} sold {n} striped cakes before noon",
    ]
    articles = {}
    for i in range(count):
        town = towns[i % len(towns)]
        picks = rng.sample(facts, 3)
        words = {"street": rng.choice(["Mill Lane", "High Street", "Church Road", "Station Hill"]), "hour": rng.randint(6, 11),
                 "n": rng.randint(12, 900), "place": rng.choice(["library", "town hall", "market", "harbour"]), "town": town}
        body = " ".join(f"At the zebra crossing festival in {town} number {i}, {fact.format(**words)}." for fact in picks)
        articles[f"burst-{i:02d}.txt"] = f"Zebra crossing festival day {i} in {town}\n\n{body}"
    return articles


def test_a_burst_posts_at_most_the_cap_then_one_summary_with_two_bot_processes(slack_bot, fake, corpus, tmp_path):
    slack, _ = slack_bot
    second = start_bot(corpus, fake, tmp_path)  # two processes on one index: still one post per story
    try:
        follow(slack, fake, "zebra crossing festival", "burst-follow")
        drop(corpus, burst_articles(50))
        summary = "more new articles match “zebra crossing festival” this hour"
        fake.wait_for(lambda c: c.method == POST and summary in c.mrkdwn(), timeout=120)
        settle()
        sent = posts(fake)  # (the earlier test's follow matches too, within its own cap)
        stories = [c for c in sent if "New on “zebra crossing festival”" in c.mrkdwn()]
        summaries = [c for c in sent if summary in c.mrkdwn()]
        assert len(stories) == CAP and len(summaries) == 1, [c.params["text"][:80] for c in sent]
        texts = [c.params["text"] for c in stories]
        assert len(set(texts)) == len(texts), "no story posted twice"
    finally:
        assert second.stop() == 0, second.log()


def test_following_lists_unfollow_is_for_the_creator_and_admins(slack_bot, fake):
    slack, _ = slack_bot
    follow(slack, fake, "grain exports <!channel> &lt;!here&gt;", "mine")  # a real @channel, and one typed as text
    slack.command("following", "list", user=BOB, channel=CHANNEL)
    listed = fake.wait_for(lambda c: c.name == "list")[0]
    rows = [b for b in listed.blocks if b.get("accessory", {}).get("action_id") == "unfollow"]
    mine = next(b for b in rows if "grain exports" in b["text"]["text"])
    assert "@channel &lt;!here&gt;" in mine["text"]["text"], "shown as typed, escaped"
    assert "<!channel>" not in listed.dump() and "<!here>" not in listed.dump(), "never a ping"
    number = json.loads(mine["accessory"]["value"])["f"]
    slack.command(f"unfollow {number}", "bob-tries", user=BOB, channel=CHANNEL)
    assert "Only <@U0ALICE>" in fake.wait_for(lambda c: c.name == "bob-tries")[0].mrkdwn()
    slack.command(f"unfollow {number}", "elsewhere", user=ALICE, channel="C0OTHER")
    assert f"no follow #{number} in this conversation" in fake.wait_for(lambda c: c.name == "elsewhere")[0].mrkdwn()
    slack.click(mine["accessory"], "admin-click", user=ADMIN, channel=CHANNEL)
    assert "Stopped following" in fake.wait_for(lambda c: c.name == "admin-click")[0].mrkdwn()
    slack.command("following", "list-after", user=BOB, channel=CHANNEL)
    assert "grain exports" not in fake.wait_for(lambda c: c.name == "list-after")[0].mrkdwn()


def test_a_forged_unfollow_click_and_bad_follow_commands_get_one_line(slack_bot, fake):
    slack, _ = slack_bot
    slack.click({"action_id": "unfollow", "value": "{\"f\": \"1; DROP TABLE follows\"}", "type": "button"}, "forged",
                user=ADMIN, channel=CHANNEL)
    assert "can't use that button" in fake.wait_for(lambda c: c.name == "forged")[0].mrkdwn()
    for text, name, says in [("follow", "empty", "Say what to follow"), ("follow x after:2025-13-01", "bad", "not a real date"),
                             ("unfollow 999999", "none", "There is no follow #999999"),
                             ("unfollow", "bare", "Say which follow to end")]:
        slack.command(text, name, user=ALICE, channel=CHANNEL)
        assert says in fake.wait_for(lambda c, name=name: c.name == name)[0].mrkdwn()


def test_follow_by_mention_confirms_in_the_thread(slack_bot, fake):
    slack, _ = slack_bot
    event = mention_event("follow ammunition depot explosions", channel=CHANNEL)
    assert slack.event(event).status == 200
    reply = fake.wait_for(lambda c: c.method == POST and c.params.get("thread_ts") == event["ts"])[0]
    assert "Following “ammunition depot explosions”" in reply.mrkdwn()


def test_digest_commands_use_the_users_slack_time_zone(slack_bot, fake):
    slack, _ = slack_bot
    fake.user_zones[ALICE] = "Europe/Berlin"
    slack.command("digest daily 08:00 grain exports", "digest-set", user=ALICE, channel=CHANNEL)
    set_reply = fake.wait_for(lambda c: c.name == "digest-set")[0].mrkdwn()
    assert "Digest set: daily at 08:00 (Europe/Berlin) on “grain exports”" in set_reply
    assert [c.params["user"] for c in fake.calls("users.info")] == [ALICE]
    slack.command("digest", "digest-show", user=BOB, channel=CHANNEL)
    assert "daily at 08:00 (Europe/Berlin)" in fake.wait_for(lambda c: c.name == "digest-show")[0].mrkdwn()
    slack.command("digest weekly funday 09:00", "digest-bad", user=ALICE, channel=CHANNEL)
    assert "which day" in fake.wait_for(lambda c: c.name == "digest-bad")[0].mrkdwn()
    fake.fail("users.info", error="missing_scope")
    slack.command("digest weekly mon 09:00", "digest-utc", user=BOB, channel=CHANNEL)
    utc = fake.wait_for(lambda c: c.name == "digest-utc")[0].mrkdwn()
    assert "every Monday at 09:00 (UTC)" in utc and "could not read your Slack time zone" in utc
    slack.command("digest off", "digest-off", user=ALICE, channel=CHANNEL)
    assert "Digest stopped" in fake.wait_for(lambda c: c.name == "digest-off")[0].mrkdwn()
