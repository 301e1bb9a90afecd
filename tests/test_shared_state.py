"""Shared Slack state for several bot processes (issue 14): event claims in the index's SQLite or in a real
PostgreSQL server (NEWSBOT_DATABASE_URL), and each part's migrations on both engines."""

from __future__ import annotations

import subprocess
import threading
import time

import psycopg
import pytest
from botkit import NEWSBOT, BotProcess, SlackSender, bot_corpus, clean_env, mention_event  # noqa: F401 (a fixture)
from conftest import make_index

from bot.state.claims import SharedEventClaims
from bot.state.schema import BOT_SCHEMA
from index import DatabaseError, IndexCorrupt
from index.database_url import shown_database_url
from index.engines.folder import schema as folder_schema
from index.engines.folder.store import Store
from index.engines.postgres import schema as postgres_schema
from index.engines.postgres.reader import PgReader
from intake.feeds import FEEDS_SCHEMA

PARTS = [FEEDS_SCHEMA, BOT_SCHEMA]


@pytest.fixture
def claims_for(tmp_path, embedder, engine_settings):
    """Make event claims on one engine: `claims_for(lease_seconds=…)`; two calls share one store, as two processes
    do (each with an index object of its own)."""
    return lambda **options: SharedEventClaims(make_index(tmp_path, embedder, **engine_settings), **options)


def test_an_event_is_claimed_once_and_released_when_not_answered(claims_for):
    first, second = claims_for(), claims_for()
    assert first.claim("Ev1")
    assert not second.claim("Ev1"), "another process is answering it"
    first.finish("Ev1", answered=False)  # it failed: Slack's re-delivery may try again
    assert second.claim("Ev1")
    second.finish("Ev1", answered=True)
    assert not first.claim("Ev1") and not second.claim("Ev1")
    assert first.claim(None) and first.claim(None), "an envelope without an id cannot be de-duplicated"


def test_a_claim_left_unfinished_past_its_lease_is_taken_over_but_an_answer_stays(claims_for):
    crashed, other = claims_for(lease_seconds=0.2), claims_for(lease_seconds=0.2)
    assert crashed.claim("Ev2") and crashed.claim("Ev3")
    crashed.finish("Ev3", answered=True)
    assert not other.claim("Ev2")
    time.sleep(0.5)
    assert other.claim("Ev2"), "the process holding the claim died; a re-delivery must be answered"
    assert not other.claim("Ev3"), "an answered event is never answered again"


def test_many_threads_claiming_one_event_get_one_yes(claims_for):
    stores = [claims_for() for _ in range(8)]
    start, results = threading.Barrier(len(stores)), []

    def claim(store):
        start.wait()
        results.append(store.claim("EvRace"))

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


# --- migrations ------------------------------------------------------------------------------------


def _parts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT part, version FROM newsbot_schema").fetchall())


LATEST_PARTS = {"index": postgres_schema.LATEST, "feeds": FEEDS_SCHEMA.postgres[-1].version, "bot": BOT_SCHEMA.postgres[-1].version}


def test_two_processes_upgrading_at_once_apply_each_migration_once(database_url, tmp_path):
    env = clean_env(NEWSBOT_DATABASE_URL=database_url)
    runs = [subprocess.Popen([*NEWSBOT, "db", "upgrade"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    first, second = sorted(out for out, _ in outputs)
    assert first.endswith("already up to date\n") and "applied index 1 (index tables)" in second, outputs
    assert _parts(database_url) == LATEST_PARTS
    status = subprocess.run([*NEWSBOT, "db", "status"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert status.returncode == 0 and status.stdout.count("up to date") == 3, status


def test_a_database_from_before_parts_is_adopted_and_older_newsbots_refuse_it(database_url, tmp_path, embedder):
    """What newsbot wrote before versions per part: the same tables, one list 1-6 in newsbot_migrations, event
    claims timed by the server. Every step runs again as a no-op, the claims keep their rows, and the list gains
    the entry an older newsbot refuses."""
    postgres_schema.upgrade(database_url, [("index", postgres_schema.MIGRATIONS)])
    with psycopg.connect(database_url, autocommit=True) as conn:
        for migration in BOT_SCHEMA.postgres[:2] + FEEDS_SCHEMA.postgres:
            conn.execute(migration.sql)
        conn.execute("DROP TABLE newsbot_schema")
        conn.execute("DELETE FROM newsbot_migrations")
        conn.execute("INSERT INTO newsbot_migrations (version, name) SELECT v, 'before parts' FROM generate_series(1, 6) v")
        conn.execute("INSERT INTO event_claims (event_id, claimed_at, answered) VALUES ('EvOld', now(), true)")
    claims = SharedEventClaims(make_index(tmp_path, embedder, database_url=database_url))
    assert not claims.claim("EvOld"), "the claim an older newsbot answered is still answered"
    assert claims.claim("EvNew")
    done = subprocess.run([*NEWSBOT, "db", "upgrade"], env=clean_env(NEWSBOT_DATABASE_URL=database_url), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _parts(database_url) == LATEST_PARTS
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT max(version) FROM newsbot_migrations").fetchone()[0] == postgres_schema.OLD_LIST_END > 6


def test_a_database_from_a_newer_newsbot_is_refused(database_url, tmp_path, embedder):
    make_index(tmp_path, embedder, database_url=database_url).state.upgrade(PARTS)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE newsbot_schema SET version = version + 1 WHERE part IN ('index', 'bot')")
    with pytest.raises(DatabaseError, match="index tables are at version .*, newer than this newsbot"):
        postgres_schema.upgrade(database_url)
    with pytest.raises(DatabaseError, match="newer than this newsbot"):
        PgReader(database_url).generation()
    with pytest.raises(DatabaseError, match="bot tables are at version .*, newer than this newsbot"):
        SharedEventClaims(make_index(tmp_path, embedder, database_url=database_url)).claim("Ev9")


def test_an_index_not_yet_upgraded_asks_for_an_upgrade(database_url):
    with pytest.raises(DatabaseError, match="newsbot db upgrade"):
        PgReader(database_url).generation()


def test_a_folder_from_a_newer_newsbot_is_refused(tmp_path, embedder):
    index = make_index(tmp_path, embedder)
    index.update(progress=False)
    with Store(index.directory).connection() as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(folder_schema.LATEST + 1),))
    with pytest.raises(IndexCorrupt, match="newer than this newsbot"):
        make_index(tmp_path, embedder).search("why did NATO expel the diplomats?")


def test_bad_database_urls_get_one_line_without_the_password(tmp_path, postgres_server):
    env = clean_env(NEWSBOT_DATABASE_URL="mysql://root:hunter2@db/news")
    done = subprocess.run([*NEWSBOT, "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and "must start with postgresql://" in done.stderr
    assert "hunter2" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    socket_dir = postgres_server.folder / "data"
    unreachable = f"postgresql://newsbot:hunter2@localhost:1/news?host={socket_dir}&port=1"
    done = subprocess.run([*NEWSBOT, "db", "status"], env=clean_env(NEWSBOT_DATABASE_URL=unreachable), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "cannot connect to postgresql://newsbot:***@" in done.stderr, done.stderr
    assert "hunter2" not in done.stderr + done.stdout and len(done.stderr.strip().splitlines()) == 1
    done = subprocess.run([*NEWSBOT, "db", "status"], env=clean_env(), cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and "NEWSBOT_DATABASE_URL is not set" in done.stderr


# --- two real bot processes ----------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_one_event_delivered_to_two_bot_processes_is_answered_once(engine, request, bot_corpus, fake, tmp_path):  # noqa: F811
    extra = {}
    if engine == "postgresql":  # the index, the claims and all state in one PostgreSQL database
        extra = {"NEWSBOT_DATABASE_URL": request.getfixturevalue("database_url")}
        env = clean_env(NEWSBOT_ARTICLES_DIR=str(bot_corpus.articles), NEWSBOT_INDEX_DIR=str(tmp_path / "unused"), **extra)
        done = subprocess.run([*NEWSBOT, "index", "--quiet"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    fake.reset()
    bots = [BotProcess(bot_corpus, fake, tmp_path, **extra) for _ in range(2)]
    try:
        for bot in bots:
            bot.wait_ready()
        event = mention_event("why did NATO expel the diplomats?", channel="C0TWICE")
        replies: list = []

        def deliver(bot: BotProcess, retry: int | None) -> None:  # Slack's delivery and its re-delivery, at once
            replies.append(SlackSender(bot.url, fake).event(event, event_id="EvTwice", retry_num=retry).status)

        threads = [threading.Thread(target=deliver, args=(bot, retry)) for bot, retry in zip(bots, (None, 1))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert replies == [200, 200]
        fake.wait_for(lambda c: c.method == "chat.postMessage" and c.params.get("channel") == "C0TWICE", timeout=90)
        time.sleep(3)  # time for a second answer, were one coming
        answers = [c for c in fake.calls("chat.postMessage") if c.params.get("channel") == "C0TWICE"]
        assert len(answers) == 1, [c.dump()[:200] for c in answers]
        assert "intelligence" in answers[0].dump(), "a quote from the index, not an apology"
        assert sum("delivered again" in bot.log() for bot in bots) == 1
    finally:
        codes = [bot.stop() for bot in bots]
    assert codes == [0, 0], [bot.log() for bot in bots]


def test_votes_scopes_follows_and_digests_land_in_the_shared_database(tmp_path, embedder, database_url):
    from bot.digests.schedule import parse_schedule
    from bot.digests.store import DigestStore
    from bot.follows.store import FollowStore
    from bot.state.feedback import record_feedback
    from bot.state.scopes import Scopes

    index = make_index(tmp_path, embedder, database_url=database_url)
    index.update(progress=False)
    record_feedback(index, "U0ALICE", "why did NATO expel the diplomats?", [["a1", 0, 10]], "up")
    Scopes(index).set("C0SCOPE", "source:reuters", "U0ADMIN")
    follow = FollowStore(index).add("C0SCOPE", "NATO expels diplomats", "U0ALICE")
    DigestStore(index).set("C0SCOPE", parse_schedule("daily 08:00"), "Europe/Berlin", "U0ALICE")
    with psycopg.connect(database_url) as conn:
        assert conn.execute('SELECT "user", vote FROM feedback').fetchall() == [("U0ALICE", "up")]
        assert conn.execute("SELECT filters FROM channel_scopes").fetchall() == [("source:reuters",)]
        assert conn.execute("SELECT id, seen FROM follows").fetchall() == [(follow.id, index.last_arrival())]
        assert conn.execute("SELECT channel, zone FROM digests").fetchall() == [("C0SCOPE", "Europe/Berlin")]
    assert not (tmp_path / "index" / "newsbot.sqlite").exists(), "nothing of it went to a folder"


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://newsbot:hunter2@db.internal/news", "postgresql://newsbot:***@db.internal/news"),
        ("postgresql://newsbot:hun:ter2@db.internal/news", "postgresql://newsbot:***@db.internal/news"),
        ("postgresql://db.internal/news?password=hunter2&sslmode=require", "postgresql://db.internal/news?password=***&sslmode=require"),
        ("postgresql://newsbot@db.internal/news", "postgresql://newsbot@db.internal/news"),
        # forms a review found leaking: spaces, quotes and slashes in the password, an empty user, separators
        # inside a parameter's value, an escaped space, an encoded parameter name
        ("postgresql://u:pa ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:pa'ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:pa/ssword@h/db", "postgresql://u:***@h/db"),
        ("postgresql://:secretpw@h/db", "postgresql://:***@h/db"),
        ("postgresql://h/db?password=x1;y2", "postgresql://h/db?password=***"),
        ("host=h password=abc,def123 dbname=d", "host=h password=*** dbname=d"),
        ("host=h password=a\\ bcdefg dbname=d", "host=h password=*** dbname=d"),
        ("postgresql://h/db?pass%77ord=secretpw", "postgresql://h/db?pass%77ord=***"),
    ],
)
def test_a_password_never_shows(url, shown):
    assert shown_database_url(url) == shown
