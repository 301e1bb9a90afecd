"""A small web site on 127.0.0.1 for tests that fetch pages: fixed routes, every request recorded."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable


def html_page(title: str, paragraphs: list[str], canonical: str | None = None, site: str | None = None) -> str:
    """A news page with navigation and footer around the article, as real sites have."""
    head = f"<title>{title}</title>"
    if canonical:
        head += f'<link rel="canonical" href="{canonical}">'
    if site:
        head += f'<meta property="og:site_name" content="{site}"><meta name="date" content="2024-05-02">'
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head>{head}</head><body><nav><a href='/'>Home</a> | <a href='/world'>World</a></nav>"
        f"<article><h1>{title}</h1>{body}</article><footer>© 2024 Newsroom</footer></body></html>"
    )


class Site:
    """Routes (path -> handler) served by a threaded HTTP server; every request is recorded."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[http.server.BaseHTTPRequestHandler], None]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stream_sent = 0
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append((self.path, dict(self.headers)))
                route = site.routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_error(404, "Not Found")
                else:
                    route(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8", **headers: str) -> str:
        """Serve a fixed body at `path`; returns its url."""
        data = body.encode() if isinstance(body, str) else body

        def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                handler.send_header(name.replace("_", "-"), value)
            handler.end_headers()
            handler.wfile.write(data)

        self.routes[path] = respond
        return self.url(path)

    def article(self, path: str, story: tuple[str, list[str]], canonical: bool = True) -> str:
        """Serve a news page; with `canonical` it names its own url as canonical."""
        return self.serve(path, html_page(story[0], story[1], self.url(path) if canonical else None, "Test Times"))

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p.split("?")[0] == path)


def rss(items: list[tuple[str, str, str]]) -> str:
    """An RSS 2.0 feed of (guid, link, title) items."""
    entries = "".join(
        f"<item><guid>{guid}</guid><link>{link}</link><title>{title}</title>"
        f"<pubDate>Thu, 02 May 2024 10:00:00 GMT</pubDate></item>"
        for guid, link, title in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Valley News</title>{entries}</channel></rss>'


def conditional_feed(site: Site, path: str, state: dict) -> str:
    """A feed that honours If-None-Match / If-Modified-Since with 304, as a well-behaved server does."""

    def respond(handler):
        etag, modified = f'"v{state["version"]}"', f"Thu, 0{state['version']} May 2024 10:00:00 GMT"
        if handler.headers.get("If-None-Match") == etag:
            handler.send_response(304)
            handler.end_headers()
            return
        data = rss(state["items"]).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("ETag", etag)
        handler.send_header("Last-Modified", modified)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    site.routes[path] = respond
    return site.url(path)


def redirect(site: Site, path: str, location: str, status: int = 302) -> str:
    """Answer `path` with a redirect to `location`; returns the url of `path`."""

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    site.routes[path] = respond
    return site.url(path)


def numbered_story(number: int) -> tuple[str, list[str]]:
    """A distinct news story per number (title and three paragraphs of over 30 words in all)."""
    return (
        f"Harbour bulletin number {number}",
        [
            f"The harbour office published bulletin number {number} on Tuesday, listing the ships due in port this week.",
            f"Bulletin {number} said the pilots would guide {number + 3} container ships through the narrow northern channel.",
            f"Dock workers were told to expect {number * 7 + 11} lorries at the east gate during the morning shift.",
        ],
    )
