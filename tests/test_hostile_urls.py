"""Issue 10: hostile URLs and servers. Credentials in a URL (given, in a feed, or in a redirect) are
refused and never shown; IPv6 forms of non-public addresses and zone ids are refused before any
connection; a compressed answer counts against the size limit as it is decoded.

Pages are served by a real HTTP server on 127.0.0.1 and fetched with the real fetcher.
"""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest
from conftest import cli_env
from websites import Site, html_page, numbered_story, redirect, rss

from index import Index
from index.engines.folder.store import Store
from intake import fetch as fetch_module
from intake.adding import add_urls
from intake.feeds import FeedError, add_feed, list_feeds, poll_feeds
from intake.fetch import FetchError, FetchSettings, fetch, redact

# Requests to 127.0.0.1 must never go through a proxy from the environment; `site` and `corpus`
# come from conftest.py.
pytestmark = pytest.mark.usefixtures("no_proxy")
LOCAL = FetchSettings(timeout=3, max_bytes=300_000, allow_private=True)
GUARDED = FetchSettings(timeout=3, max_bytes=300_000, allow_private=False)
SECRET = "s3cr3t-pw"
MIB = 1 << 20


def with_credentials(url: str) -> str:
    return url.replace("http://", f"http://reader:{SECRET}@")


def sent_credentials(site: Site) -> bool:
    return any("Authorization" in headers or "authorization" in headers for _, headers in site.requests)


# --- credentials -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [("http://reader:pw@example.com/a?b#c", "http://***@example.com/a?b#c"), ("reader:pw@example.com/x", "***@example.com/x"),
     ("https://token@example.com", "https://***@example.com"), ("http://example.com/a@b", "http://example.com/a@b")],
)
def test_redact_hides_user_names_and_passwords(url, shown):
    assert redact(url) == shown


def test_a_url_with_a_password_is_refused_and_never_shown(site, corpus):
    plain = site.article("/creds/page", numbered_story(501))
    before = len(site.requests)
    results = add_urls(corpus, [with_credentials(plain), f"reader:{SECRET}@127.0.0.1:{site.server.server_port}/creds/page"], LOCAL)
    assert [r.ok for r in results] == [False, False]
    assert results[0].line() == (
        f"not added: {plain.replace('http://', 'http://***@')}: "
        "refused: the URL has a user name or password, which newsbot never sends; give the URL without them"
    )
    assert all(SECRET not in r.line() and SECRET not in r.url for r in results)
    assert len(site.requests) == before, "a refused URL is not requested at all"
    [added] = add_urls(corpus, [plain], LOCAL)  # the happy case: the same page without credentials
    assert added.ok and corpus.article(added.article_id).info.url == plain
    assert not sent_credentials(site)


def test_newsbot_add_with_a_password_prints_one_line_without_it(site, tmp_path, monkeypatch, capsys, cli_main):
    for name, value in cli_env(tmp_path, NEWSBOT_ALLOW_PRIVATE_URLS="1").items():
        if name.startswith("NEWSBOT_"):
            monkeypatch.setenv(name, value)
    url = with_credentials(site.article("/creds/cli", numbered_story(502)))
    assert cli_main(["add", url]) == 1
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and "has a user name or password" in out and SECRET not in out + err


def test_a_redirect_to_a_url_with_a_password_is_refused(site, corpus):
    target = site.article("/creds/target", numbered_story(503))
    sneaky = redirect(site, "/creds/sneaky", with_credentials(target))
    relative = redirect(site, "/creds/relative", f"//reader:{SECRET}@127.0.0.1:{site.server.server_port}/creds/target")
    honest = redirect(site, "/creds/honest", target)
    with pytest.raises(FetchError, match="^refused: redirected to a URL with a user name or password"):
        fetch(sneaky, LOCAL)
    results = add_urls(corpus, [sneaky, relative, honest], LOCAL)
    assert [r.ok for r in results] == [False, False, True], [r.line() for r in results]
    assert all(SECRET not in r.line() for r in results)
    assert site.hits("/creds/target") == 1, "only the honest redirect reached the page"
    assert not sent_credentials(site)
    stored = corpus.article(results[2].article_id).info.url
    assert stored == target


def test_a_canonical_url_with_a_password_is_not_stored(site, corpus):
    page = site.url("/creds/canonical")
    site.serve("/creds/canonical", html_page(*numbered_story(504), canonical=with_credentials(page), site="Test Times"))
    [result] = add_urls(corpus, [page], LOCAL)
    assert result.ok and corpus.article(result.article_id).info.url == page


def test_a_feed_with_a_password_is_refused_and_so_are_its_items_with_one(site, corpus):
    good_page = site.article("/creds/item-ok", numbered_story(505))
    secret_page = site.article("/creds/item-secret", numbered_story(506))
    feed = site.serve(
        "/creds/feed.xml", rss([("c-2", with_credentials(secret_page), "Secret"), ("c-1", good_page, "Fine")]), "application/rss+xml"
    )
    with pytest.raises(FeedError) as refused:
        add_feed(corpus, with_credentials(feed), LOCAL)
    assert "has a user name or password" in str(refused.value) and SECRET not in str(refused.value)
    assert list_feeds(corpus) == []
    add_feed(corpus, feed, LOCAL)
    [result] = poll_feeds(corpus, LOCAL)
    assert [r.ok for r in result.added] == [True, False]
    assert "has a user name or password" in result.added[1].reason and SECRET not in result.added[1].line()
    assert site.hits("/creds/item-secret") == 0 and not sent_credentials(site)


# --- IPv6 forms and zone ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [("[2002:7f00:1::]", r"2002:7f00:1:: is a loopback address \(6to4 for 127\.0\.0\.1\)"),
     ("[64:ff9b::7f00:1]", r"64:ff9b::7f00:1 is a loopback address \(NAT64 for 127\.0\.0\.1\)"),
     ("[fec0::1]", r"fec0::1 is a site-local address"),
     ("[::1%25lo]", r"::1%25lo has an IPv6 zone id, which names a local network interface"),
     ("[fe80::1%25eth0]", r"fe80::1%25eth0 has an IPv6 zone id")],
)
def test_ipv6_forms_of_local_addresses_and_zone_ids_are_refused_before_connecting(site, host, reason, monkeypatch):
    def never(*args, **kwargs):
        pytest.fail(f"{host} was connected to or looked up: {args}")

    monkeypatch.setattr(fetch_module, "create_connection", never)
    if "%" in host:  # a zone id is refused without even a lookup
        monkeypatch.setattr(fetch_module, "resolve", never)
    with pytest.raises(FetchError, match=rf"^refused: {reason}"):
        fetch(f"http://{host}:{site.server.server_port}/anything", GUARDED)
    monkeypatch.undo()
    page = site.article("/v6/happy", numbered_story(507))
    assert fetch(page, LOCAL).status == 200  # the happy case: the same server is reached when allowed


# --- a compressed answer that expands past the size limit ---------------------------------------------------


def test_a_gzip_encoded_page_is_cut_off_at_the_size_limit_while_it_is_decoded(site):
    """`Content-Encoding: gzip` of 256 MiB (a few hundred KB on the wire): the limit counts decoded bytes."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = packer.compress(b" " * MIB) + packer.flush()
    site.serve("/bomb.html", member * 256, "text/html", Content_Encoding="gzip")
    site.serve("/gzipped.html", gzip.compress(html_page(*numbered_story(508)).encode()), "text/html", Content_Encoding="gzip")
    assert b"Harbour bulletin number 508" in fetch(site.url("/gzipped.html"), LOCAL).body  # the happy case
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="larger than the 1,000,000-byte limit"):
            fetch(site.url("/bomb.html"), FetchSettings(timeout=10, max_bytes=1_000_000, allow_private=True))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * MIB, f"decoding peaked at {peak / MIB:.0f} MiB"


def test_a_redirect_with_a_gzip_bomb_body_is_closed_unread(site):
    """requests read and decoded every 3xx body in full, past `max_bytes`: 66 KB of gzip peaked at 128 MiB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = packer.compress(b" " * MIB) + packer.flush()
    bomb *= 64
    page = site.article("/bomb-redirect/target", numbered_story(509))

    def respond(handler):
        handler.send_response(302)
        handler.send_header("Location", "/bomb-redirect/target")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(bomb)))
        handler.end_headers()
        try:
            handler.wfile.write(bomb)
        except OSError:
            pass  # the client closed the connection without reading: what it should do

    site.routes["/bomb-redirect/start"] = respond
    tracemalloc.start()
    try:
        fetched = fetch(site.url("/bomb-redirect/start"), FetchSettings(timeout=10, max_bytes=1_000_000, allow_private=True))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fetched.url == page and b"Harbour bulletin number 509" in fetched.body
    assert peak < 16 * MIB, f"a redirect's body was decoded: {peak / MIB:.0f} MiB"


def test_a_redirect_to_a_malformed_url_is_one_line(site, tmp_path, monkeypatch, capsys, cli_main):
    start = redirect(site, "/malformed/start", "http://[x/")
    with pytest.raises(FetchError, match=r"^redirected to a malformed URL$"):
        fetch(start, LOCAL)
    hops = [redirect(site, f"/malformed/hop{i}", site.url(f"/malformed/hop{i + 1}")) for i in range(6)]
    with pytest.raises(FetchError, match=r"^more than 5 redirects$"):
        fetch(hops[0], LOCAL)
    for name, value in cli_env(tmp_path, NEWSBOT_ALLOW_PRIVATE_URLS="1").items():
        if name.startswith("NEWSBOT_"):
            monkeypatch.setenv(name, value)
    assert cli_main(["feeds", "add", start]) == 1
    out, err = capsys.readouterr()
    assert "redirected to a malformed URL" in out + err and "Traceback" not in out + err


def test_feeds_list_hides_a_password_stored_before_the_refusal(tmp_path, monkeypatch, capsys, cli_main):
    for name, value in cli_env(tmp_path).items():
        if name.startswith("NEWSBOT_"):
            monkeypatch.setenv(name, value)
    assert cli_main(["feeds", "list"]) == 0
    index = Index.open()
    with Store(index.directory).connection() as conn:  # as an older newsbot stored it
        conn.execute("INSERT INTO feeds(url, title, added_at) VALUES (?, 'Old', '2024-05-01')", (f"https://reader:{SECRET}@news.example/feed",))
    capsys.readouterr()
    assert cli_main(["feeds", "list"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("https://***@news.example/feed  “Old”") and SECRET not in out + err
