"""Issue 27: the doors added since the first hardening pass, tried again as an attacker would, each beside its
happy case: database passwords in every form, follows in bursts and floods, roles without rights, text no
database stores, over-long questions, and article urls that are not web links. Real CLI processes, real SQLite
and a real PostgreSQL server."""

from __future__ import annotations

import json
import threading
from urllib.parse import urlsplit

import psycopg
import pytest
from conftest import NATO_QUESTION, SEEDS, cli_env, make_index, newsbot

from bot.config import FollowLimits
from bot.follows.commands import FollowCommands
from bot.follows.store import FollowRefused, FollowStore
from index.questions.context import MAX_QUESTION_CHARS

SECRET = "Sup3rSecretPw"
SETTINGS = [
    f"host=127.0.0.1 user=newsbot password={SECRET} dbname=newsbot",
    f"newsbot:{SECRET}@db/newsbot",
    f"postgresql:/newsbot:{SECRET}@db/news",
    f"mysql://root:{SECRET}@db/news",
    f"host=db password='{SECRET}' dbname=news",
]


def _one_line_without(done, secret: str = SECRET) -> None:
    out = done.stdout + done.stderr
    assert secret not in out, out
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in out, done.stderr


@pytest.mark.parametrize("setting", SETTINGS, ids=["key=value", "bare user:password@", "postgresql:/", "mysql://", "quoted"])
def test_a_database_password_is_never_printed_in_any_form(setting, tmp_path):
    for command in (["db", "status"], ["stats"], ["index"]):
        done = newsbot(*command, env=cli_env(tmp_path, NEWSBOT_DATABASE_URL=setting))
        assert done.returncode == 2 and "must start with postgresql://" in done.stderr
        _one_line_without(done)
    done = newsbot("migrate", "--to", setting, env=cli_env(tmp_path))
    assert done.returncode == 2 and "--to must start with postgresql://" in done.stderr
    _one_line_without(done)


def test_a_password_libpq_quotes_back_is_hidden_too(tmp_path, postgres_server):
    socket_dir = postgres_server.folder / "data"
    url = f"postgresql://newsbot@localhost/news?host={socket_dir}&password=s%41cret%zz"
    done = newsbot("db", "status", env=cli_env(tmp_path, NEWSBOT_DATABASE_URL=url), timeout=60)
    assert done.returncode == 1 and "cannot connect to" in done.stderr
    for form in ("s%41cret%zz", "sAcret%zz", "s%41cret"):
        _one_line_without(done, form)


def test_stats_on_postgresql_name_the_database_not_a_folder(tmp_path, database_url):
    done = newsbot("stats", env=cli_env(tmp_path, NEWSBOT_DATABASE_URL=database_url), timeout=120)
    assert done.returncode == 1 and "No index yet in postgresql://" in done.stderr
    assert str(tmp_path / "index") not in done.stderr


# --- follows ---------------------------------------------------------------------------------------------


def _store(tmp_path, embedder, **settings) -> FollowStore:
    index = make_index(tmp_path, embedder, **settings)
    index.update(progress=False)  # a follow starts after the latest arrival: the index must exist
    return FollowStore(index)


def test_follows_sent_at_once_cannot_pass_the_caps_on_either_engine(tmp_path, embedder, engine_settings):
    store = _store(tmp_path, embedder, **engine_settings)
    limits, results = FollowLimits(per_channel=6, per_user=4), []
    start = threading.Barrier(30)

    def add(number: int) -> None:
        start.wait()
        try:
            store.add("C0BURST", f"grain exports question {number}", f"U0{number % 3}", limits)
            results.append("added")
        except FollowRefused as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=add, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    follows = store.in_channel("C0BURST")
    assert len(follows) == results.count("added") == 6
    assert max(sum(f.created_by == user for f in follows) for user in ("U00", "U01", "U02")) <= 4
    assert all("already follows 6 questions" in r or "You already follow" in r for r in results if r != "added")


def test_one_person_cannot_fill_the_channels_and_the_same_question_is_refused(tmp_path, embedder):
    store = _store(tmp_path, embedder)
    commands = FollowCommands(store, frozenset({"U0ADMIN"}), FollowLimits(per_channel=50, per_user=3))
    for number, channel in enumerate(("C01", "C02", "C03")):
        assert "Following" in commands.follow(f"topic number {number}", channel, "U0FLOOD")["text"]
    refused = commands.follow("one topic too many", "C04", "U0FLOOD")["text"]
    assert "You already follow 3 questions" in refused and not store.in_channel("C04")
    assert "Following" in commands.follow("one topic too many", "C04", "U0OTHER")["text"], "others are not locked out"
    first = store.in_channel("C04")[0]
    again = commands.follow("ONE topic   too many", "C04", "U0THIRD")["text"]
    assert f"already follows that question as #{first.id}" in again and len(store.in_channel("C04")) == 1


def test_text_no_database_stores_is_stripped_alike_on_both_engines(tmp_path, embedder, engine_settings):
    store = _store(tmp_path, embedder, **engine_settings)
    commands = FollowCommands(store, frozenset())
    reply = commands.follow("grain\x00 exports \ud800from Ukraine", "C0NUL", "U0ALICE")
    assert "Following" in reply["text"]
    [follow] = store.in_channel("C0NUL")
    assert follow.question == "grain exports ?from Ukraine"


@pytest.mark.parametrize("number", ["²", "#٣", "1²", "9" * 19])
def test_a_follow_number_that_is_no_plain_number_gets_the_usage_line(tmp_path, embedder, number):
    commands = FollowCommands(_store(tmp_path, embedder), frozenset())
    for reply in (commands.unfollow(number, "C0X", "U0ALICE"), commands.resume(number, "C0X", "U0ALICE")):
        assert "Say which follow to" in reply["text"]


# --- PostgreSQL roles without rights ---------------------------------------------------------------------


def test_a_role_without_the_rights_gets_one_line_with_the_sql_to_grant_them(tmp_path, postgres_server):
    url = postgres_server.fresh()
    database = urlsplit(url).path.lstrip("/")
    with psycopg.connect(postgres_server.admin_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS limited_newsbot")
        conn.execute("CREATE ROLE limited_newsbot LOGIN PASSWORD 'limitedpw'")
        conn.execute(f"GRANT CONNECT ON DATABASE {database} TO limited_newsbot")
    limited = url.replace("postgres:@", "limited_newsbot:limitedpw@", 1)
    env = cli_env(tmp_path, NEWSBOT_DATABASE_URL=limited)
    fixes = ["CREATE EXTENSION IF NOT EXISTS vector;", "GRANT CREATE ON SCHEMA public TO limited_newsbot;"]
    told = []
    for _ in fixes:
        done = newsbot("db", "upgrade", env=env, timeout=120)
        assert done.returncode == 1 and "an admin runs: " in done.stderr, done.stderr
        _one_line_without(done, "limitedpw")
        fix = next(f for f in fixes if f in done.stderr and f not in told)
        told.append(fix)
        with psycopg.connect(url, autocommit=True) as conn:  # what the line tells an admin to run, as an admin
            conn.execute(fix.split(";")[0])
    assert sorted(told) == sorted(fixes)
    done = newsbot("db", "upgrade", env=env, timeout=120)
    assert done.returncode == 0 and "applied index 1" in done.stdout, done.stderr
    told_first, _ = done.stdout.splitlines()  # what it is about to do, said before the long steps run
    assert "applying index 0 -> " in told_first and "applied" not in told_first, done.stdout


# --- questions and article urls --------------------------------------------------------------------------


def test_an_over_long_question_is_cut_at_a_space_and_the_answer_says_where(corpus):
    filler = "please tell me more about this " * 80
    result = corpus.search(f"{NATO_QUESTION} {filler} source:\"AP News\"")
    assert result.reading.startswith("Read the first ") and f"of {len(NATO_QUESTION) + len(filler) + 17:,}" in result.reading
    assert len(result.question) <= MAX_QUESTION_CHARS and not result.question.endswith('"AP')
    assert corpus.search(NATO_QUESTION).reading == "", "a question that fits is read whole, without a note"


def test_only_web_links_are_kept_as_an_articles_url(tmp_path, embedder):
    articles = tmp_path / "articles"
    articles.mkdir()
    seed = next(SEEDS.glob("*.txt")).read_text()
    (articles / "script.md").write_text(f'---\ntitle: NATO expels\nurl: "javascript:alert(3)"\n---\n{seed}')
    (articles / "records.jsonl").write_text(json.dumps({"id": "r1", "title": "Kremlin", "url": "file:///etc/passwd",
                                                          "text": "Dmitry Peskov said the Kremlin regrets the decision."}))
    (articles / "web.md").write_text("---\ntitle: Zebra\nurl: https://news.example/zebra\n---\nThe zebra crossing festival opens.")
    logged: list[str] = []
    index = make_index(tmp_path, embedder, articles=articles)
    index.log = logged.append
    index.update(progress=False)
    notes = "\n".join(logged)
    assert "javascript:alert(3)" in notes and "file:///etc/passwd" in notes and "only http and https" in notes
    for question in (NATO_QUESTION, "What did Peskov say?"):
        for answer in index.search(question, k=5).answers:
            assert not answer.link.startswith(("javascript:", "file:///etc")), answer.link
            assert answer.article.url in (None, "https://news.example/zebra")
    zebra = index.search("when does the zebra crossing festival open?").answers[0]
    assert zebra.link.startswith("https://news.example/zebra#:~:text=")
