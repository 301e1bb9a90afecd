"""waitress's server with two things it lacks: a deadline per request from accept time, and caps that evict.

waitress reads every request whole in its event loop before a worker thread sees it, so idle, one-byte and
trickling clients hold no thread. But its `channel_timeout` counts from a client's last byte (a byte now and
then keeps a connection forever), and at `connection_limit` it stops accepting, so such clients could still
fill every slot and shut out `/healthz` and Slack. Here a connection must have sent its whole request within
`timeout` of being accepted (or of its previous response); otherwise it gets a 408 (or, if it sent nothing,
is closed). And when a newcomer would pass `max_connections` in all, or `max_per_ip` from its address, the
longest-waiting connection that has no request in progress is closed to make room.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.server import TcpWSGIServer

log = logging.getLogger("newsbot.web")

REPORT_EVERY = 60.0  # seconds between two log lines about closed connections
TIMEOUT_REASON = b"request not received in time\n"
TIMEOUT_REPLY = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
)


@dataclass(frozen=True)
class Caps:
    """The limits the server enforces on connections."""

    timeout: float  # seconds from accept (or the previous response) to a complete request
    max_connections: int  # open at once
    max_per_ip: int  # open at once from one address


class GuardedChannel(HTTPChannel):
    """waitress's connection, plus when it started waiting for its current request."""

    server: GuardedServer

    def __init__(self, server: GuardedServer, sock: Any, addr: Any, adj: Any, map: dict | None = None) -> None:
        self.waiting_since = time.monotonic()
        super().__init__(server, sock, addr, adj, map=map)
        server.make_room(self)

    def service(self) -> None:
        """Serve the queued request(s) on a worker thread; the next request's deadline starts after."""
        try:
            super().service()
        finally:
            self.waiting_since = time.monotonic()

    def waiting(self) -> bool:
        """No request is being served and the connection is not already closing: it may be closed to make room."""
        return not (self.requests or self.will_close or self.close_when_flushed)


class GuardedServer(TcpWSGIServer):
    """waitress's TCP server whose connections have a request deadline and whose caps close the oldest waiting."""

    channel_class = GuardedChannel

    def __init__(self, application: Any, caps: Caps, **kw: Any) -> None:
        self.caps = caps
        self._closed = {"idle": 0, "slow": 0, "over the limit": 0}
        self._reported = dict.fromkeys(self._closed, float("-inf"))  # the first close of each kind: at once
        super().__init__(application, **kw)

    def make_room(self, newcomer: GuardedChannel) -> None:
        """Keep within both caps by closing the longest-waiting connection (from the newcomer's address first)."""
        address = newcomer.addr[0] if isinstance(newcomer.addr, tuple) else newcomer.addr
        open_ = [c for c in self.active_channels.values() if not (c.will_close or c.close_when_flushed)]
        same = [c for c in open_ if (c.addr[0] if isinstance(c.addr, tuple) else c.addr) == address]
        for group, cap in ((same, self.caps.max_per_ip), (open_, self.caps.max_connections)):
            if len(group) > cap:
                victims = [c for c in group if c is not newcomer and c.waiting()]
                victim = min(victims, key=lambda c: c.waiting_since) if victims else newcomer
                victim.will_close = True  # the event loop closes it on its next round
                self._closed["over the limit"] += 1
                if victim is newcomer:
                    break
                open_.remove(victim)
        self._report()

    def maintenance(self, now: float) -> None:
        """Close connections whose request has not arrived in full within the timeout (waitress calls this)."""
        cutoff = time.monotonic() - self.caps.timeout
        for channel in list(self.active_channels.values()):
            if not isinstance(channel, GuardedChannel) or not channel.waiting() or channel.waiting_since > cutoff:
                continue
            if channel.request is not None and not channel.total_outbufs_len:  # part of a request came: say why
                self._closed["slow"] += 1
                try:
                    channel.write_soon(TIMEOUT_REPLY % (len(TIMEOUT_REASON), TIMEOUT_REASON))
                    channel.close_when_flushed = True
                    continue
                except ClientDisconnected:
                    pass
                channel.will_close = True
            else:
                channel.will_close = True
                self._closed["idle"] += 1
        self._report()

    def _report(self, final: bool = False) -> None:
        """A log line about connections closed as idle, slow or too many: for each reason, at most one a minute."""
        now = time.monotonic()
        due = [why for why, count in self._closed.items() if count and now - self._reported[why] >= REPORT_EVERY]
        if not due and not (final and any(self._closed.values())):
            return
        counts = ", ".join(f"{count} {why}" for why, count in self._closed.items() if count)
        caps = self.caps
        log.info("closed HTTP connections: %s (limits: %gs to send a request, %d open at once, %d per address)",
                 counts, caps.timeout, caps.max_connections, caps.max_per_ip)
        for why, count in self._closed.items():
            if count:
                self._reported[why] = now
        self._closed = dict.fromkeys(self._closed, 0)

    def report(self) -> None:
        """Log the connections closed since the last report (at shutdown)."""
        self._report(final=True)
