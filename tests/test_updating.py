"""Issue 4: new articles reach answers without a restart.

Pages and feeds are served by a real HTTP server on 127.0.0.1; the real fetcher, extractor,
feed poller and `newsbot watch` process are driven against it.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import NATO_QUESTION, PROXY_VARS, SEEDS, cli_env, make_index
from websites import Site, conditional_feed, html_page

from index import Index
from index.engines.folder.store import Store
from intake import adding as adding_module
from intake import feeds as feeds_module
from intake import fetch as fetch_module
from intake.adding import add_urls
from intake.feeds import FeedError, add_feed, list_feeds, poll_feeds, remove_feed
from intake.fetch import FetchError, FetchSettings, blocked_reason, fetch
from intake.watcher import Watcher

# Requests to 127.0.0.1 must never go through a proxy from the environment; `site` and `corpus`
# come from conftest.py.
pytestmark = pytest.mark.usefixtures("no_proxy")
LOCAL = FetchSettings(timeout=2, max_bytes=300_000, allow_private=True)


SOLAR = (
    "Floating solar farm opens on Lake Merrow",
    [
        "The city of Ostravia opened a floating solar farm on Lake Merrow on Thursday, covering 40 hectares of water with 72,000 panels.",
        "Officials said the farm would supply electricity to about 18,000 homes and reduce evaporation from the reservoir during hot summers.",
        "Critics worried about the effect on fish, but a two-year study by the university found no measurable harm to the lake ecosystem.",
    ],
)
GLACIER = (
    "Brenholt opens a museum inside a glacier",
    [
        "The mountain village of Brenholt opened a museum carved 30 metres deep inside the Sarnen glacier, reached through a blue ice tunnel.",
        "The curators said the galleries show ice cores that record two thousand years of climate, kept at minus four degrees all year.",
        "Local guides expect 60,000 visitors in the first season and warn that the tunnel must be re-cut every spring as the ice moves.",
    ],
)
TUNNEL = (
    "Tessaly rail tunnel breakthrough",
    [
        "Workers on the Tessaly rail tunnel broke through the last rock wall on Monday, joining the two halves of the 19-kilometre bore.",
        "The boring machine named Greta had advanced about twelve metres a day since the project began four years ago under the Pell range.",
        "Trains are due to run from 2027 and will cut the journey between the two valleys from three hours to forty minutes.",
    ],
)
FERRY = (
    "Quorra island ferry crews go on strike",
    [
        "Ferry crews serving Quorra island walked out on Friday in a dispute over night shifts, leaving about 4,000 islanders without a crossing.",
        "The operator said a reduced timetable with two sailings a day would run from the harbour at Lisk while talks continued.",
        "Shopkeepers on the island said fresh food deliveries had stopped and that the strike came at the height of the tourist season.",
    ],
)
OBSERVATORY = (
    "Marlow observatory gets a new telescope",
    [
        "The Marlow hill observatory unveiled a four-metre telescope on Saturday, the largest ever built for a public observatory in the region.",
        "Astronomers said the instrument would let school groups see the rings of Saturn and study comets on clear winter nights.",
        "The telescope was paid for by a lottery grant and eleven years of bake sales run by the local astronomy club volunteers.",
    ],
)

HONEY = (
    "Veldmark beekeepers report record harvest",
    [
        "Beekeepers in the Veldmark valley reported a record harvest of 14 tonnes of honey this summer, double last year's yield.",
        "The cooperative credited a wet spring that let clover and lime trees flower for weeks longer than usual across the valley.",
        "Prices at the autumn market are expected to fall slightly, and the cooperative plans to open a second bottling room.",
    ],
)
BEEKEEPING = ("How much honey did the Veldmark beekeepers harvest?", "14 tonnes of honey")


def files(index: Index) -> set[str]:
    return {p.name for p in index.settings.articles_dir.iterdir()}


def article_count(index: Index) -> int:
    return index.stats().articles


def answers_with(index: Index, question: str, phrase: str) -> bool:
    """True when one of the top answers quotes `phrase`."""
    return any(phrase in answer.quote for answer in index.search(question, k=3).answers)


# --- the guard against server-side request forgery ----------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "224.0.0.1", "0.0.0.0", "240.0.0.1",
     "100.64.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::",
     # site-local, and IPv6 forms that carry a non-public IPv4 address: 6to4, NAT64, compatible, Teredo
     "fec0::1", "feff::1", "2002:7f00:1::", "2002:a00:1::5", "2002:a9fe:a9fe::", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
     "::127.0.0.1", "::10.0.0.1", "2001:0:4136:e378:8000:63bf:80ff:fffe"],
)
def test_non_public_addresses_are_blocked(address):
    assert blocked_reason(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("address", "reason"),
    [("2002:7f00:1::", "a loopback address (6to4 for 127.0.0.1)"), ("64:ff9b::a00:1", "a private address (NAT64 for 10.0.0.1)"),
     ("fec0::1", "a site-local address"), ("::ffff:169.254.169.254", "a private address (IPv4-mapped for 169.254.169.254)")],
)
def test_an_address_is_refused_with_the_reason_it_carries(address, reason):
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111",
     # IPv6 forms that carry a public IPv4 address are judged by it (NAT64 is how IPv6-only networks reach IPv4 sites)
     "2002:808:808::1", "64:ff9b::808:808", "::ffff:8.8.8.8"],
)
def test_public_addresses_pass(address):
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_loopback_and_non_http_urls_are_refused_without_opt_in(site, corpus, monkeypatch):
    monkeypatch.delenv("NEWSBOT_ALLOW_PRIVATE_URLS", raising=False)
    url = site.article("/guarded", SOLAR)
    before = len(site.requests)
    port = site.server.server_port
    for target in (url, f"http://localhost:{port}/guarded", f"http://[::1]:{port}/guarded"):
        with pytest.raises(FetchError, match="refused: .*loopback.*NEWSBOT_ALLOW_PRIVATE_URLS=1"):
            fetch(target, FetchSettings.from_env())
    for target in ("file:///etc/passwd", "ftp://example.com/x", "gopher://127.0.0.1/"):
        with pytest.raises(FetchError, match="not an http or https URL"):
            fetch(target, FetchSettings.from_env())
    [result] = add_urls(corpus, [url])
    assert not result.ok and "refused" in result.reason
    assert len(site.requests) == before, "a refused URL must not be requested at all"
    assert files(corpus) == {p.name for p in SEEDS.iterdir()}


def test_a_redirect_to_a_private_address_is_refused(site, monkeypatch):
    """Every hop is checked: the first host is allowed here, the redirect's target is not."""
    real = fetch_module.blocked_reason
    monkeypatch.setattr(
        fetch_module, "blocked_reason", lambda a: None if str(a) == "127.0.0.1" else real(a)
    )
    target = f"http://127.0.0.2:{site.server.server_port}/secret"

    def redirect(handler):
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.end_headers()

    site.routes["/hop"] = redirect
    site.serve("/public", html_page(*SOLAR))
    assert fetch(site.url("/public"), FetchSettings()).status == 200  # the first host itself is allowed
    with pytest.raises(FetchError, match=r"refused: 127\.0\.0\.2 is a loopback address"):
        fetch(site.url("/hop"), FetchSettings())
    assert site.hits("/hop") == 1 and site.hits("/secret") == 0


# --- bad input: a clear reason, nothing saved ---------------------------------------------------------


def _slow(handler):
    time.sleep(3)
    handler.send_response(200)
    handler.end_headers()


def _declares_50_mb(handler):
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(50_000_000))
    handler.end_headers()


def _streams_50_mb(site: Site) -> Callable:
    """A 50 MB page sent without Content-Length; counts what it managed to send before the reader hung up."""

    def respond(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.end_headers()
        chunk = b"<p>" + b"filler words " * 5000 + b"</p>\n"
        site.stream_sent = 0
        try:
            while site.stream_sent < 50_000_000:
                handler.wfile.write(chunk)
                site.stream_sent += len(chunk)
        except OSError:
            pass
        site.stream_done.set()

    site.stream_done = threading.Event()
    return respond


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/missing", "HTTP 404 Not Found"),
        ("/slow", "timed out after 1s"),
        ("/report.pdf", "not a web page: the server sent application/pdf"),
        ("/huge-declared", "larger than the 300,000-byte limit"),
        ("/huge-streamed", "larger than the 300,000-byte limit"),
        ("/empty", "no article text found on the page"),
    ],
)
def test_bad_pages_get_a_clear_reason_and_nothing_is_saved(site, corpus, path, expected):
    site.routes["/slow"] = _slow
    site.routes["/huge-declared"] = _declares_50_mb
    site.routes["/huge-streamed"] = _streams_50_mb(site)
    site.serve("/report.pdf", b"%PDF-1.7\n" + b"0" * 1000, "application/pdf")
    site.serve("/empty", "<html><head><title>Home</title></head><body><nav>Home | Sport</nav><p>Subscribe!</p></body></html>")
    before_files, before_articles = files(corpus), article_count(corpus)
    started = time.monotonic()
    [result] = add_urls(corpus, [site.url(path)], FetchSettings(timeout=1, max_bytes=300_000, allow_private=True))
    assert not result.ok and not result.duplicate
    assert expected in result.reason and "\n" not in result.reason
    assert time.monotonic() - started < 2.5
    assert files(corpus) == before_files and article_count(corpus) == before_articles


def test_a_50_mb_stream_is_cut_off_early(site):
    site.routes["/stream"] = _streams_50_mb(site)
    started = time.monotonic()
    with pytest.raises(FetchError, match="larger than the 1,000,000-byte limit"):
        fetch(site.url("/stream"), FetchSettings(timeout=10, max_bytes=1_000_000, allow_private=True))
    assert time.monotonic() - started < 3
    assert site.stream_done.wait(10)
    assert site.stream_sent < 25_000_000, f"the server managed to send {site.stream_sent:,} bytes"


def _trickles(part: str) -> Callable:
    """A server that sends its headers or its body one byte at a time, each well within any read timeout."""

    def respond(handler):
        started = time.monotonic()
        try:
            handler.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n")
            if part == "body":
                handler.wfile.write(b"\r\n<html><body><p>")
            else:
                handler.wfile.write(b"X-Slow: ")
            while time.monotonic() - started < 12:
                handler.wfile.write(b"a")
                time.sleep(0.3)
        except OSError:
            pass

    return respond


@pytest.mark.parametrize("guarded", [True, False])
@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_trickling_server_cannot_stretch_the_time_limit(site, monkeypatch, part, guarded):
    """The limit is on the whole fetch, not on each read: a byte every 0.3s still ends after 1.5s."""
    real = fetch_module.blocked_reason
    monkeypatch.setattr(fetch_module, "blocked_reason", lambda a: None if str(a) == "127.0.0.1" else real(a))
    site.routes[f"/trickle-{part}"] = _trickles(part)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"^timed out after 1\.5s$"):
        fetch(site.url(f"/trickle-{part}"), FetchSettings(timeout=1.5, allow_private=not guarded))
    assert time.monotonic() - started < 3


def test_a_stuck_name_lookup_cannot_stretch_the_time_limit(monkeypatch):
    real = fetch_module.socket.getaddrinfo

    def stuck(host, *args, **kwargs):
        if host == "stuck.example":
            time.sleep(4)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", stuck)
    for allow_private in (False, True):
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"^timed out after 1s$"):
            fetch("http://stuck.example/news", FetchSettings(timeout=1, allow_private=allow_private))
        assert time.monotonic() - started < 2


# --- newsbot add ----------------------------------------------------------------------------------------


def test_an_added_page_is_saved_indexed_and_answerable(site, corpus):
    url = site.article("/solar", SOLAR)
    [result] = add_urls(corpus, [url + "?utm_source=chat"], LOCAL)
    assert result.ok, result.reason
    assert result.title == SOLAR[0] and result.passages >= 1
    saved = result.path.read_text()
    assert saved.startswith("---\n") and f"url: {url}\n" in saved and "source: Test Times" in saved
    assert "published: '2024-05-02'" in saved and SOLAR[1][1] in saved
    answers = corpus.search("How many homes will the floating solar farm supply with electricity?", k=3).answers
    assert answers and "18,000 homes" in answers[0].quote
    assert answers[0].article.url == url and answers[0].article.title == SOLAR[0]


def test_a_page_already_indexed_is_not_added_twice(site, corpus):
    url = site.article("/glacier", GLACIER)
    copy = site.article("/glacier-copy", GLACIER, canonical=False)  # same text, another url, no canonical
    first = add_urls(corpus, [url], LOCAL)
    assert first[0].ok
    after_files, after_articles = files(corpus), article_count(corpus)
    hits = site.hits("/glacier")
    again = add_urls(corpus, [url, url + "#comments", site.url("/glacier?ref=home"), copy], LOCAL)
    assert [r.duplicate for r in again] == [True, True, True, True]
    assert all(r.title == GLACIER[0] and not r.ok for r in again)
    assert "already indexed" in again[0].line()
    assert site.hits("/glacier") == hits + 1, "a url already indexed is not even fetched again"
    assert files(corpus) == after_files and article_count(corpus) == after_articles


def test_a_page_that_cannot_be_indexed_leaves_no_file_behind(site, corpus):
    """Another updater holds the index for longer than the add waits: the saved file is taken back."""
    url = site.article("/ferry", FERRY)
    before_files, before_articles = files(corpus), article_count(corpus)
    with Store(corpus.directory).lock():
        [result] = add_urls(corpus, [url], LOCAL, wait=0.5)
    assert not result.ok and result.transient
    assert result.reason.startswith("indexing failed: another newsbot process is updating the index")
    assert files(corpus) == before_files and article_count(corpus) == before_articles
    assert add_urls(corpus, [url], LOCAL)[0].ok  # and it works once the index is free


def test_the_first_add_on_a_fresh_install_indexes_the_whole_articles_folder(site, tmp_path, embedder):
    """Before any index exists, adding a page must not leave the rest of the folder unindexed for good."""
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    fresh = make_index(tmp_path, embedder, articles)
    assert not fresh.exists()
    [result] = add_urls(fresh, [site.article("/first-ever", SOLAR)], LOCAL)
    assert result.ok, result.reason
    assert answers_with(fresh, NATO_QUESTION, "intelligence officers"), "the seeds already in the folder are indexed"
    assert answers_with(fresh, "How many homes will the floating solar farm supply with electricity?", "18,000 homes")
    assert fresh.update(progress=False).added == 0, "nothing in the folder was left for a later update"


def test_newsbot_add_reports_each_url(site, tmp_path, monkeypatch, capsys, cli_main):
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    for name, value in cli_env(tmp_path, NEWSBOT_ARTICLES_DIR=str(articles), NEWSBOT_ALLOW_PRIVATE_URLS="1").items():
        if name.startswith("NEWSBOT_"):
            monkeypatch.setenv(name, value)
    url = site.article("/tunnel", TUNNEL)
    assert cli_main(["add", url, site.url("/nowhere")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"added: “{TUNNEL[0]}” \(\d+ passages?\) from {re.escape(url)}", out[0]), out[0]
    assert out[1] == f"not added: {site.url('/nowhere')}: HTTP 404 Not Found"
    assert cli_main(["add", url]) == 0
    assert capsys.readouterr().out.startswith(f"already indexed: “{TUNNEL[0]}”")


def test_a_malformed_url_gets_a_clear_reason_and_the_other_urls_are_still_added(site, corpus):
    url = site.article("/after-malformed", OBSERVATORY)
    results = add_urls(corpus, ["http://[x", "https://example.com:99999/x", url], LOCAL)
    assert [r.ok for r in results] == [False, False, True]
    assert results[0].line() == "not added: http://[x: not a valid URL: 'http://[x' (Invalid IPv6 URL)"
    assert results[1].reason.startswith("not a valid URL: 'https://example.com:99999/x' (Port out of range")
    with pytest.raises(FetchError, match="not a valid URL"):
        fetch("http://[x", LOCAL)


def test_an_unexpected_error_with_one_page_is_logged_and_does_not_stop_the_others(site, corpus, monkeypatch, caplog):
    real = adding_module.extract

    def exploding(page, *args):
        if page.url.endswith("/exploding"):
            raise RuntimeError("the extractor\nfell over")
        return real(page, *args)

    real_save = adding_module.save_article

    def disk_full(article, folder):
        if article.title == FERRY[0]:
            raise OSError(28, "No space left on device")
        return real_save(article, folder)

    monkeypatch.setattr(adding_module, "extract", exploding)
    monkeypatch.setattr(adding_module, "save_article", disk_full)
    bad, unsaved = site.article("/exploding", SOLAR), site.article("/unsaved", FERRY)
    good = site.article("/after-exploding", TUNNEL)
    before = files(corpus)
    with caplog.at_level("ERROR", logger="newsbot.adding"):
        results = add_urls(corpus, [bad, unsaved, good], LOCAL)
    assert [r.ok for r in results] == [False, False, True]
    assert results[0].reason == "unexpected error: RuntimeError: the extractor fell over"
    assert any(record.exc_info and bad in record.getMessage() for record in caplog.records), "the traceback is logged"
    assert results[1].reason == "cannot save the article file: [Errno 28] No space left on device"
    assert files(corpus) == before | {results[2].path.name}


def test_newsbot_add_of_a_malformed_url_prints_one_line(tmp_path, monkeypatch, capsys, cli_main):
    for name, value in cli_env(tmp_path).items():
        if name.startswith("NEWSBOT_"):
            monkeypatch.setenv(name, value)
    assert cli_main(["add", "http://[x"]) == 1
    out, err = capsys.readouterr()
    assert out == "not added: http://[x: not a valid URL: 'http://[x' (Invalid IPv6 URL)\n"
    assert "Traceback" not in err


# --- feeds -----------------------------------------------------------------------------------------------


@pytest.fixture
def engine_corpus(tmp_path: Path, embedder, engine_settings) -> Index:
    """An index over a private copy of the seeds, in the folder's SQLite or in PostgreSQL (feeds state with it)."""
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    index = make_index(tmp_path, embedder, articles, **engine_settings)
    index.update(progress=False)
    return index


def test_feed_poll_adds_new_items_once_with_conditional_get(site, engine_corpus):
    corpus = engine_corpus
    glacier, tunnel = site.article("/f/glacier", GLACIER), site.article("/f/tunnel", TUNNEL)
    state = {"version": 1, "items": [("g-1", glacier, "Glacier"), ("g-2", tunnel, "Tunnel"), ("g-3", site.url("/f/gone"), "Gone")]}
    feed_url = conditional_feed(site, "/feed.xml", state)

    assert add_feed(corpus, feed_url, LOCAL).title == "Valley News"
    [first] = poll_feeds(corpus, LOCAL)
    assert first.error is None and not first.not_modified
    assert sorted((r.ok, r.url) for r in first.added) == [(False, site.url("/f/gone")), (True, glacier), (True, tunnel)]
    assert "3 new items: 2 added, 0 already indexed, 1 not added" in first.line()
    assert answers_with(corpus, "How deep inside the glacier is the Brenholt museum?", "30 metres deep")
    assert answers_with(corpus, "When will trains run through the Tessaly tunnel?", "from 2027")

    [second] = poll_feeds(corpus, LOCAL)
    sent = site.requests[-1][1]
    assert sent.get("If-None-Match") == '"v1"' and sent.get("If-Modified-Since") == "Thu, 01 May 2024 10:00:00 GMT"
    assert second.not_modified and second.added == []

    ferry = site.article("/f/ferry", FERRY)
    state["version"], state["items"] = 2, [("g-4", ferry, "Ferry"), *state["items"]]
    hits = {p: site.hits(p) for p in ("/f/glacier", "/f/tunnel", "/f/gone")}
    [third] = poll_feeds(corpus, LOCAL)
    assert [(r.url, r.ok) for r in third.added] == [(ferry, True)], "only the new item is handled"
    assert {p: site.hits(p) for p in hits} == hits, "items seen before are not fetched again"
    assert answers_with(corpus, "Why did the Quorra ferry crews strike?", "night shifts")
    assert list_feeds(corpus)[0].items == 4


def test_a_feed_that_is_not_xml_is_refused_and_a_broken_feed_reports_an_error(site, corpus):
    page = site.article("/not-a-feed", SOLAR)
    with pytest.raises(FeedError, match=r"not an RSS or Atom feed \(the server sent text/html\)"):
        add_feed(corpus, page, LOCAL)
    assert list_feeds(corpus) == []

    state = {"version": 1, "items": []}
    feed_url = conditional_feed(site, "/soon-broken.xml", state)
    add_feed(corpus, feed_url, LOCAL)
    site.serve("/soon-broken.xml", "this is { not xml", "text/plain")
    [result] = poll_feeds(corpus, LOCAL)
    assert result.error == "not an RSS or Atom feed (the server sent text/plain)" and "\n" not in result.line()
    assert list_feeds(corpus)[0].error == result.error
    assert remove_feed(corpus, feed_url) and not remove_feed(corpus, feed_url)
    assert list_feeds(corpus) == []


def test_one_broken_feed_does_not_stop_the_others(site, corpus, monkeypatch, caplog):
    """A feed url that cannot even be parsed, a feed whose poll fails unexpectedly, then a good feed."""
    glacier = site.article("/a/glacier", GLACIER)
    good = conditional_feed(site, "/after-broken.xml", {"version": 1, "items": [("a-1", glacier, "Glacier")]})
    exploding = conditional_feed(site, "/exploding.xml", {"version": 1, "items": []})
    add_feed(corpus, exploding, LOCAL)
    add_feed(corpus, good, LOCAL)
    with feeds_module._transaction(corpus) as conn:  # followed before urls were checked
        conn.execute("INSERT INTO feeds(url, added_at) VALUES ('http://[x', '2000-01-01T00:00:00Z')")
    real = feeds_module.read_feed

    def read(url, *args, **kwargs):
        if url == exploding:
            raise RuntimeError("parser crashed")
        return real(url, *args, **kwargs)

    monkeypatch.setattr(feeds_module, "read_feed", read)
    with caplog.at_level("ERROR", logger="newsbot.feeds"):
        results = poll_feeds(corpus, LOCAL)
    assert results[0].url == "http://[x", "the feeds are polled in the order they were added"
    polled = {r.url: r for r in results}
    assert polled["http://[x"].error == "not a valid URL: 'http://[x' (Invalid IPv6 URL)"
    assert polled[exploding].error == "unexpected error: RuntimeError: parser crashed"
    assert any(record.exc_info and exploding in record.getMessage() for record in caplog.records)
    assert polled[good].error is None and [r.ok for r in polled[good].added] == [True]
    assert {f.url: f.error for f in list_feeds(corpus)} == {url: r.error for url, r in polled.items()}


# --- newsbot watch, and questions answered while the index changes under them ------------------------------


class Output:
    """Collects a subprocess's stderr lines in a thread so it never blocks on a full pipe."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert time.monotonic() < deadline, f"no {text!r} in:\n" + "\n".join(self.lines)
            time.sleep(0.1)


class Asker:
    """Asks questions in a loop on its own Index, like a running `newsbot serve`, recording every outcome."""

    def __init__(self, index: Index, questions: list[str]) -> None:
        self.index = index
        self.questions = questions
        self.asked = 0
        self.errors: list[BaseException] = []
        self.quotes: dict[str, list[list[str]]] = {q: [] for q in questions}  # per question, per asking
        self.generations: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            question = self.questions[self.asked % len(self.questions)]
            try:
                result = self.index.search(question, k=3)
                self.quotes[question].append([] if result.abstained else [a.quote for a in result.answers])
                self.generations.add(self.index.generation())
            except BaseException as exc:  # recorded: the test fails on any
                self.errors.append(exc)
            self.asked += 1
            time.sleep(0.02)

    def answered(self, question: str, phrase: str) -> list[bool]:
        """For each time `question` was asked: did an answer quote `phrase`?"""
        return [any(phrase in quote for quote in quotes) for quotes in self.quotes[question]]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until `condition` held; fails after `timeout`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not within {timeout}s: {what}"
        time.sleep(0.2)
    return time.monotonic() - started


def front_matter_article(title: str, paragraphs: list[str]) -> str:
    return f"---\ntitle: {title}\nsource: Team notes\npublished: 2024-05-03\n---\n\n" + "\n\n".join(paragraphs) + "\n"


def test_a_slow_feed_poll_holds_up_neither_folder_changes_nor_stopping(site, corpus):
    """The feed poller has its own thread: a file dropped in while a feed item hangs is indexed in seconds,
    and once stopped the poller finishes the item in hand and leaves the rest for the next poll."""
    release, hanging = threading.Event(), threading.Event()
    site.article("/hanging", SOLAR)
    served = site.routes["/hanging"]

    def hang(handler):
        hanging.set()
        release.wait(30)
        served(handler)

    site.routes["/hanging"] = hang
    later = site.article("/not-yet", GLACIER)
    items = [("h-2", later, "Glacier"), ("h-1", site.url("/hanging"), "Solar")]  # newest first, as feeds list them
    add_feed(corpus, conditional_feed(site, "/hanging-feed.xml", {"version": 1, "items": items}), LOCAL)
    lines: list[str] = []
    stop = threading.Event()
    patient = FetchSettings(timeout=30, allow_private=True)
    watcher = Watcher(corpus, corpus.settings.articles_dir, 60, patient, lines.append)
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert hanging.wait(30), "the watcher polls the feed"
        (corpus.settings.articles_dir / "veldmark-honey.md").write_text(front_matter_article(*HONEY))
        wait_until(lambda: answers_with(corpus, *BEEKEEPING), 10, "a new file answerable while a feed item hangs")
    finally:
        stop.set()
        release.set()
        thread.join(timeout=20)
    assert not thread.is_alive(), "the watcher stops without waiting for the next feed interval"
    assert lines[-1] == "watch: stopped", lines
    assert answers_with(corpus, "How many homes will the floating solar farm supply with electricity?", "18,000 homes")
    assert site.hits("/not-yet") == 0, "no new item is fetched once stopping"
    assert list_feeds(corpus)[0].items == 1, "the item not tried is left for the next poll"


def test_watch_keeps_the_index_current_while_questions_are_answered(site, tmp_path, embedder):
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    observed = make_index(tmp_path, embedder, articles)
    observed.update(progress=False)
    feed_url = conditional_feed(site, "/watch-feed.xml", {"version": 1, "items": [("o-1", site.article("/w/observatory", OBSERVATORY), "Telescope")]})
    add_feed(observed, feed_url, LOCAL)

    env = cli_env(tmp_path, NEWSBOT_ARTICLES_DIR=str(articles), NEWSBOT_ALLOW_PRIVATE_URLS="1")
    for name in PROXY_VARS:
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "watch", str(articles), "--feed-interval", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    output = Output(process.stderr)
    beekeeping = BEEKEEPING
    telescope = ("How big is the new telescope at the Marlow observatory?", "four-metre telescope")
    serving = make_index(tmp_path, embedder, articles)  # a second reader of the same index, as `newsbot serve` is
    asker = Asker(serving, [beekeeping[0], NATO_QUESTION, telescope[0]])
    try:
        output.wait_for("watching", timeout=60)

        # a feed polled by the watcher, then a file dropped into the folder: each becomes answerable
        wait_until(lambda: answers_with(observed, *telescope), 20, "the feed's item answerable")
        new = articles / "veldmark-honey.md"
        new.write_text(front_matter_article(*HONEY))
        assert wait_until(lambda: answers_with(observed, *beekeeping), 15, "a new file answerable") < 15

        # bad files are skipped; the watcher keeps running and still picks up the next good file
        (articles / "broken.json").write_text("{ this is not json")
        (articles / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
        output.wait_for("binary.txt: binary file", timeout=15)
        (articles / "ferry.md").write_text(front_matter_article(FERRY[0], FERRY[1]))
        wait_until(lambda: answers_with(observed, "Why did the Quorra ferry crews strike?", "night shifts"), 15, "a good file after bad ones")
        assert process.poll() is None

        # a deleted file disappears from the answers
        new.unlink()
        wait_until(lambda: not answers_with(observed, *beekeeping), 15, "a deleted file gone from the answers")
        # The serving index keeps answering while the watcher runs: as many questions as the check below asks for,
        # however quickly the steps above went (their pace, not the asker's, decided the count before).
        wait_until(lambda: asker.asked > 20, 30, "more than 20 questions asked while watching")
    finally:
        asker.stop()
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        finally:
            process.kill()
    assert code == 0, "\n".join(output.lines)
    output.wait_for("watch: stopped", timeout=5)
    assert sum("binary.txt" in line for line in output.lines) == 1, "a bad file is reported once, not on every update"
    assert asker.errors == [], asker.errors[:3]
    assert asker.asked > 20 and len(asker.generations) >= 4, (asker.asked, asker.generations)
    nato = asker.answered(NATO_QUESTION, "intelligence officers")
    assert len(nato) > 5 and all(nato), f"the NATO question went unanswered {nato.count(False)} of {len(nato)} times"
    assert any(asker.answered(*telescope)), "the feed's article became answerable for the running reader"
    assert any(asker.answered(*beekeeping)), "the new file became answerable for the running reader"
