"""Fetch web pages and feeds that users name, safely: timeouts, a size cap and a guard against
server-side request forgery.

The guard sits where connections are opened: every hop (the URL and each redirect) is resolved
with `getaddrinfo`, refused if any address is loopback, private, link-local, site-local, multicast,
reserved or unspecified (an IPv6 address that carries an IPv4 one — mapped, compatible, 6to4, NAT64,
Teredo — is judged by the IPv4 address it carries), and the socket is connected to the very address
that was checked, so a DNS answer that changes between check and connect cannot slip past it. A host
with an IPv6 zone id (`[fe80::1%25eth0]`) names a local interface and is refused without a lookup.

URLs with a user name or password are refused, and so are redirects to one: newsbot never sends
credentials, and a password must not end up in a stored url or a Slack answer's link.

Redirects are followed one hop at a time (at most `MAX_REDIRECTS`): each redirect is closed
without reading its body, so a compressed body on a 302 is never decoded, and each target is
checked like a URL a user gave.

The time limit is on the whole fetch, redirects included: the name lookup, connecting and every
read must end within it (see `deadline`), however slowly a server sends its answer.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from index.settings import flag_env, number_env
from intake.deadline import Deadline, current, resolve

DEFAULT_TIMEOUT = 20.0
DEFAULT_MAX_PAGE_BYTES = 10_000_000
MAX_REDIRECTS = 5
CHUNK_BYTES = 65_536
HTML_TYPES = ("text/html", "application/xhtml+xml")
USER_AGENT = "newsbot/0.1 (adds news articles that its users name)"
ALLOW_PRIVATE_HINT = "set NEWSBOT_ALLOW_PRIVATE_URLS=1 to allow it"
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052's well-known prefix: the last 32 bits are IPv4
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d (but :: and ::1 are themselves)


class FetchError(Exception):
    """A page or feed could not be fetched; the message is one line meant for the user."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient  # worth trying again later (timeout, 5xx, connection trouble)


@dataclass(frozen=True)
class FetchSettings:
    """Limits for every fetch: total time, body size, and whether private addresses may be reached."""

    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_PAGE_BYTES
    allow_private: bool = False

    @classmethod
    def from_env(cls) -> "FetchSettings":
        """Read NEWSBOT_FETCH_TIMEOUT (seconds), NEWSBOT_MAX_PAGE_BYTES and NEWSBOT_ALLOW_PRIVATE_URLS."""
        return cls(
            timeout=number_env("NEWSBOT_FETCH_TIMEOUT", DEFAULT_TIMEOUT, float),
            max_bytes=int(number_env("NEWSBOT_MAX_PAGE_BYTES", DEFAULT_MAX_PAGE_BYTES)),
            allow_private=flag_env("NEWSBOT_ALLOW_PRIVATE_URLS"),
        )


@dataclass
class Fetched:
    """A response that passed every check; `url` is the final one after redirects."""

    url: str
    status: int
    content_type: str
    charset: str | None
    body: bytes
    headers: Mapping[str, str]


def carried_ipv4(address: ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, and the form that carries them ("6to4"...), if any."""
    if address.ipv4_mapped:
        return "IPv4-mapped", [address.ipv4_mapped]
    if address.sixtofour:
        return "6to4", [address.sixtofour]
    if address.teredo:
        return "Teredo", list(address.teredo)  # the Teredo server and the client it reaches
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        form = "NAT64" if address in NAT64 else "IPv4-compatible"
        return form, [ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)]
    return "", []


def blocked_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why fetching from `address` is refused (e.g. "a loopback address"), or None for a public one.

    An IPv6 address that carries an IPv4 address is judged by the IPv4 address, so `2002:7f00:1::`
    (6to4 for 127.0.0.1) is refused as loopback and `64:ff9b::808:808` (NAT64 for 8.8.8.8) passes.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local:  # fec0::/10: deprecated, but still routed inside some networks
            return "a site-local address"
        form, carried = carried_ipv4(address)
        if carried:
            for inner in carried:
                reason = blocked_reason(inner)
                if reason:
                    return f"{reason} ({form} for {inner})"
            return None
    for kind in ("loopback", "private", "link_local", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{kind}"):
            return f"a {kind.replace('_', '-')} address"
    if not address.is_global:
        return "not a public address"
    return None


def addresses_of(host: str, port: int, seconds: float) -> list[str]:
    """Resolve `host` within `seconds` (`TimeoutError` beyond); `FetchError` if it has no address."""
    try:
        return resolve(host, port, seconds)
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"cannot resolve the host name {host!r}", transient=True) from None


def public_addresses(host: str, port: int, seconds: float = DEFAULT_TIMEOUT) -> list[str]:
    """Resolve `host`; every address must be public, else `FetchError` names the one refused.

    A zone id (`fe80::1%eth0`) names one of this machine's network interfaces, so the host is
    refused before any lookup.
    """
    if "%" in host:
        raise FetchError(
            f"refused: {host} has an IPv6 zone id, which names a local network interface; "
            f"newsbot only fetches public web addresses ({ALLOW_PRIVATE_HINT})"
        )
    addresses = addresses_of(host, port, seconds)
    for text in addresses:
        reason = blocked_reason(ipaddress.ip_address(text.split("%")[0]))
        if reason:
            shown = host if host == text else f"{host} ({text})"
            raise FetchError(f"refused: {shown} is {reason}; newsbot only fetches public web addresses ({ALLOW_PRIVATE_HINT})")
    return addresses


def _new_conn(self: HTTPConnection) -> socket.socket:
    """urllib3's `_new_conn`, but within the fetch's deadline and, if `guarded`, only to checked public addresses."""
    deadline = current()
    left = deadline.remaining() if deadline else DEFAULT_TIMEOUT
    if left <= 0:
        raise ConnectTimeoutError(self, f"Connection to {self.host} timed out")
    try:
        found = (public_addresses if self.guarded else addresses_of)(self.host, self.port, left)
    except TimeoutError as exc:
        raise ConnectTimeoutError(self, f"Looking up {self.host} timed out") from exc
    last: OSError | None = None
    for address in found:
        wait = deadline.remaining() if deadline else left
        if isinstance(self.timeout, (int, float)):
            wait = min(wait, self.timeout)
        try:
            sock = create_connection(
                (address, self.port), wait, source_address=self.source_address, socket_options=self.socket_options
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from exc
        except OSError as exc:
            last = exc
            continue
        try:
            if deadline:
                deadline.watch(sock)
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from exc
        return sock
    raise NewConnectionError(self, f"Failed to establish a new connection: {last}") from last


def _pool_classes(guarded: bool) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pools (http, https) whose connections open through `_new_conn`; `guarded` checks addresses."""
    pools: dict[str, type[HTTPConnectionPool]] = {}
    kind = "Guarded" if guarded else "Private"
    bases = (("http", HTTPConnection, HTTPConnectionPool), ("https", HTTPSConnection, HTTPSConnectionPool))
    for scheme, connection, pool in bases:
        members = {"guarded": guarded, "_new_conn": _new_conn}
        connection_cls = type(f"_{kind}{connection.__name__}", (connection,), members)
        pools[scheme] = type(f"_{kind}{pool.__name__}", (pool,), {"ConnectionCls": connection_cls})
    return pools


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections are opened only to public addresses, within the fetch's deadline."""

    pools = _pool_classes(guarded=True)

    def init_poolmanager(self, *args, **kwargs) -> None:
        """Swap the pool classes so every connection, redirects included, goes through the guard."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self.pools)


class PrivateAdapter(GuardedAdapter):
    """Like `GuardedAdapter`, but private addresses may be reached too (NEWSBOT_ALLOW_PRIVATE_URLS=1)."""

    pools = _pool_classes(guarded=False)


def redact(url: str) -> str:
    """`url` with any user name and password shown as `***`, for messages, logs and chat replies."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:end]
    if "@" not in authority:
        return url
    return f"{scheme}{separator}***@{authority.rpartition('@')[2]}{rest[end:]}"


def linkable(url: str | None) -> bool:
    """Whether `url` may be shown as a link: http(s), and no user name or password in it (one stored before newsbot
    refused them is never shown)."""
    return bool(url) and url.startswith(("http://", "https://")) and redact(url) == url


def check_url(url: str) -> str:
    """The URL, trimmed, if it is an absolute http(s) URL with a host and no credentials; `FetchError` otherwise."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        hostname, _ = parts.hostname, parts.port  # both parse the host part, and may refuse it
    except ValueError as exc:
        raise FetchError(f"not a valid URL: {redact(url)!r} ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(f"not an http or https URL: {redact(url)!r}")
    if "@" in parts.netloc:
        raise FetchError("refused: the URL has a user name or password, which newsbot never sends; give the URL without them")
    if not hostname:
        raise FetchError(f"the URL has no host name: {url!r}")
    return url


class _Session(requests.Session):
    """A requests session that never follows redirects itself: `fetch` does, one checked hop at a time."""

    def resolve_redirects(self, *args, **kwargs) -> Iterator[requests.Response]:
        """Nothing: even with allow_redirects=False, requests' version reads and decodes the 3xx body in full."""
        return iter(())


def _session(settings: FetchSettings) -> requests.Session:
    session = _Session()
    session.trust_env = False  # a proxy from the environment would do its own, unchecked, resolving
    session.headers["User-Agent"] = USER_AGENT
    adapter = PrivateAdapter() if settings.allow_private else GuardedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _next_hop(session: requests.Session, response: requests.Response) -> str:
    """Where a redirect leads, checked like a URL a user gave (scheme, host, no credentials); `FetchError` if refused."""
    try:
        target = urljoin(response.url, session.get_redirect_target(response) or "")
        parts = urlsplit(target)
        _ = parts.hostname, parts.port  # both parse the host part, and may refuse it
    except ValueError:
        raise FetchError("redirected to a malformed URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError("redirected to a URL that is not http or https")
    if "@" in parts.netloc:
        raise FetchError("refused: redirected to a URL with a user name or password, which newsbot never sends")
    try:
        return check_url(target)
    except FetchError:
        raise FetchError("redirected to a malformed URL") from None


def _connection_problem(exc: requests.ConnectionError, url: str) -> FetchError:
    host = urlsplit(url).hostname or url
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, NameResolutionError):
        return FetchError(f"cannot resolve the host name {host!r}", transient=True)
    cause = reason.__cause__ if reason is not None else None
    if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
        return FetchError(f"connection refused by {host}", transient=True)
    return FetchError(f"cannot connect to {host}", transient=True)


def fetch(
    url: str,
    settings: FetchSettings,
    accept: tuple[str, ...] | None = HTML_TYPES,
    headers: Mapping[str, str] | None = None,
) -> Fetched:
    """GET `url` within the time and size limits; `accept` lists allowed content types (None: any).

    A 304 answer to a conditional request is returned with an empty body; any other non-2xx
    status, a disallowed content type, an over-size body or a refused address raises `FetchError`.
    """
    url = check_url(url)
    with Deadline(settings.timeout) as deadline, _session(settings) as session:
        for _ in range(MAX_REDIRECTS + 1):
            response = _get(session, url, settings, headers, deadline)
            if not response.is_redirect:
                with response:
                    return _read(response, settings, accept, deadline)
            with response:  # closed unread: a redirect's body (maybe a gzip bomb) is never decoded
                url = _next_hop(session, response)
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _get(
    session: requests.Session, url: str, settings: FetchSettings, headers: Mapping[str, str] | None, deadline: Deadline
) -> requests.Response:
    """One request, redirects not followed and the body not read yet; failures become one-line `FetchError`s."""
    try:
        return session.get(
            url, headers=dict(headers or {}), stream=True, allow_redirects=False, timeout=(settings.timeout, settings.timeout)
        )
    except requests.Timeout:
        raise _timed_out(settings) from None
    except requests.ConnectionError as exc:
        raise (_timed_out(settings) if deadline.passed() else _connection_problem(exc, url)) from None
    except requests.RequestException as exc:
        if deadline.passed():
            raise _timed_out(settings) from None
        raise FetchError(f"request failed: {type(exc).__name__}", transient=True) from None


def _timed_out(settings: FetchSettings) -> FetchError:
    return FetchError(f"timed out after {settings.timeout:g}s", transient=True)


def _read(
    response: requests.Response, settings: FetchSettings, accept: tuple[str, ...] | None, deadline: Deadline
) -> Fetched:
    """Check status, type and declared size, then read the body, stopping as soon as a limit is passed."""
    status = response.status_code
    if status == 304:
        return Fetched(response.url, status, "", None, b"", response.headers)
    if status >= 400 or status < 200:
        transient = status >= 500 or status in (408, 429)
        raise FetchError(f"HTTP {status} {response.reason or ''}".rstrip(), transient=transient)
    content_type, charset = _content_type(response.headers.get("Content-Type", ""))
    if accept is not None and content_type not in accept:
        shown = content_type or "no content type"
        raise FetchError(f"not a web page: the server sent {shown}, only {' or '.join(accept)} is read")
    limit = f"larger than the {settings.max_bytes:,}-byte limit (NEWSBOT_MAX_PAGE_BYTES)"
    declared = response.headers.get("Content-Length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > settings.max_bytes:
        raise FetchError(limit)
    body = bytearray()
    try:
        for chunk in response.iter_content(CHUNK_BYTES):
            body += chunk
            if len(body) > settings.max_bytes:
                raise FetchError(limit)
            if deadline.passed():
                raise _timed_out(settings)
    except (requests.RequestException, HTTPError, OSError) as exc:
        if deadline.passed() or "timed out" in str(exc).lower():
            raise _timed_out(settings) from None
        raise FetchError("the connection broke while reading", transient=True) from None
    if deadline.expired:  # the deadline shut the socket, so the body ended early, not at its end
        raise _timed_out(settings)
    return Fetched(response.url, status, content_type, charset, bytes(body), response.headers)


def _content_type(header: str) -> tuple[str, str | None]:
    """The media type (lower-cased) and charset of a Content-Type header."""
    kind, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return kind.strip().lower(), charset
