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
