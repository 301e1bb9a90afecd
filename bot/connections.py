"""Connection limits for the HTTP server: idle connections cost no thread, slow ones are cut off, the pool is fixed.

The stdlib's `ThreadingHTTPServer` starts a thread per connection and lets it wait forever for a request
that never comes: 300 half-open connections held 300 threads. Here an accepted connection waits in one
selector until its first bytes arrive, and only then takes one of a fixed number of threads. A connection
that has not sent anything `timeout` seconds after it was accepted is closed; one whose thread is still
reading its request `timeout` seconds after it started is shut for reading, which ends the blocked read.
When `max_connections` are open, the longest-waiting idle connection is closed to make room.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("newsbot.web")

Address = tuple  # what `accept()` returns as the peer's address
Serve = Callable[[socket.socket, Address], None]
TICK = 0.2  # seconds between deadline checks
REPORT_EVERY = 60.0  # seconds between two log lines about dropped connections


class ConnectionLimiter:
    """Parks accepted connections until they speak, serves them on a bounded pool, and closes the slow ones."""

    def __init__(self, serve: Serve, timeout: float, max_connections: int, workers: int) -> None:
        self._serve = serve
        self.timeout = timeout
        self.max_connections = max_connections
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="http")
        self._selector = selectors.DefaultSelector()
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)
        self._selector.register(self._wake_in, selectors.EVENT_READ)
        self._lock = threading.Lock()
        self._arrivals: deque[tuple[socket.socket, Address]] = deque()  # under _lock
        self._reading: dict[socket.socket, float] = {}  # under _lock: served, request not read yet → deadline
        self._busy = 0  # under _lock: connections handed to the pool and not finished
        self._waiting: dict[socket.socket, tuple[Address, float]] = {}  # lobby thread only: idle → deadline
        self._dropped = {"idle": 0, "slow": 0, "over the limit": 0}
        self._reported = float("-inf")  # the first drop is reported at once
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="http-lobby", daemon=True)
        self._thread.start()

    # --- called from other threads ----------------------------------------------------------------------

    def admit(self, sock: socket.socket, address: Address) -> None:
        """A newly accepted connection: wait for its request without holding a thread."""
        with self._lock:
            self._arrivals.append((sock, address))
        self._wake()

    def request_read(self, sock: socket.socket) -> None:
        """The connection's request has arrived in full: the reading deadline no longer applies."""
        with self._lock:
            self._reading.pop(sock, None)

    def close(self) -> None:
        """Stop the lobby, close the connections still waiting, and let running requests finish."""
        self._closed = True
        self._wake()
        self._thread.join(timeout=5)
        for sock in list(self._waiting):
            _close(sock)
        self._waiting.clear()
        self._report(final=True)
        self._pool.shutdown(wait=False)

    # --- the lobby thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        """Hand over connections that speak, admit new ones, expire slow ones, until closed."""
        while not self._closed:
            try:
                self._step()
            except Exception:  # the lobby must outlive any one bad connection
                log.exception("the connection lobby failed a step; it keeps running")
                time.sleep(TICK)

    def _step(self) -> None:
        """One round of the lobby."""
        for key, _ in self._selector.select(TICK):
            if key.fileobj is self._wake_in:
                self._drain_wake()
            else:
                self._hand_over(key.fileobj)
        self._admit_arrivals()
        self._expire(time.monotonic())
        self._report()

    def _hand_over(self, sock: socket.socket) -> None:
        """The connection sent bytes (or closed): serve it on the pool."""
        self._selector.unregister(sock)
        address, _ = self._waiting.pop(sock)
        with self._lock:
            self._busy += 1
        self._pool.submit(self._serve_one, sock, address)

    def _admit_arrivals(self) -> None:
        """Register new connections, closing the longest-idle ones (or the newcomer) beyond the limit."""
        with self._lock:
            arrivals, self._arrivals = list(self._arrivals), deque()
            busy = self._busy
        for sock, address in arrivals:
            while self._waiting and len(self._waiting) + busy >= self.max_connections:
                self._drop(next(iter(self._waiting)), "over the limit")
            if len(self._waiting) + busy >= self.max_connections:
                self._dropped["over the limit"] += 1
                _close(sock)
                continue
            self._waiting[sock] = (address, time.monotonic() + self.timeout)
            self._selector.register(sock, selectors.EVENT_READ)

    def _expire(self, now: float) -> None:
        """Close idle connections past their deadline; shut slow requests for reading."""
        while self._waiting:
            sock, (_, deadline) = next(iter(self._waiting.items()))
            if deadline > now:
                break  # all wait the same timeout, so the dict is in deadline order
            self._drop(sock, "idle")
        with self._lock:
            late = [sock for sock, deadline in self._reading.items() if deadline <= now]
            for sock in late:
                del self._reading[sock]
                self._dropped["slow"] += 1
                try:
                    sock.shutdown(socket.SHUT_RD)  # the blocked read in the serving thread returns at once
                except OSError:
                    pass

    def _drop(self, sock: socket.socket, why: str) -> None:
        """Close a waiting connection without an answer."""
        self._selector.unregister(sock)
        del self._waiting[sock]
        self._dropped[why] += 1
        _close(sock)

    def _report(self, final: bool = False) -> None:
        """At most one log line a minute (and one at the end) about connections closed as idle, slow or too many."""
        if not any(self._dropped.values()) or (not final and time.monotonic() - self._reported < REPORT_EVERY):
            return
        counts = ", ".join(f"{count} {why}" for why, count in self._dropped.items() if count)
        log.info("closed HTTP connections: %s (limits: %gs to send a request, %d open at once)",
                 counts, self.timeout, self.max_connections)
        self._dropped = dict.fromkeys(self._dropped, 0)
        self._reported = time.monotonic()

    def _wake(self) -> None:
        """Interrupt the lobby's select."""
        try:
            self._wake_out.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # already awake (the buffer is full) or closed

    def _drain_wake(self) -> None:
        """Empty the wake-up socket."""
        try:
            while self._wake_in.recv(4096):
                pass
        except BlockingIOError:
            pass

    # --- the pool threads -------------------------------------------------------------------------------

    def _serve_one(self, sock: socket.socket, address: Address) -> None:
        """Serve one connection with a reading deadline, then close it."""
        with self._lock:
            self._reading[sock] = time.monotonic() + self.timeout
        try:
            self._serve(sock, address)
        finally:
            with self._lock:
                self._reading.pop(sock, None)
                self._busy -= 1
            _close(sock)


def _close(sock: socket.socket) -> None:
    """Close a connection, telling the peer first (as socketserver does)."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    sock.close()
