"""A hard time limit for one fetch: name lookups that cannot outlast it, and sockets shut at its end.

A socket timeout only bounds each read, so a server sending a byte every few seconds could hold a
fetch for ever; here a timer shuts down every socket the fetch opened once its time is up, which
wakes any read blocked on them. The fetch in progress on this thread is found through `current`.
"""

from __future__ import annotations

import socket
import threading
import time
from contextvars import ContextVar
from types import TracebackType


class Deadline:
    """The end of one fetch's time; used as a context manager around the fetch."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self.expire)
        self._timer.daemon = True

    def __enter__(self) -> "Deadline":
        self._token = _CURRENT.set(self)
        self._timer.start()
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._timer.cancel()
        _CURRENT.reset(self._token)
        with self._lock:
            for twin in self._sockets:
                twin.close()
            self._sockets.clear()

    def remaining(self) -> float:
        """Seconds left, 0 once the time is up."""
        return max(0.0, self.ends - time.monotonic())

    def passed(self) -> bool:
        """True once the time is up."""
        return self.expired or time.monotonic() >= self.ends

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down when the time is up; `TimeoutError` if it already is."""
        twin = sock.dup()  # the same connection, still reachable after TLS wraps or urllib3 closes `sock`
        with self._lock:
            if not self.expired:
                self._sockets.append(twin)
                return
        _shut(twin)
        twin.close()
        raise TimeoutError("the fetch's time is up")

    def expire(self) -> None:
        """End the fetch: every socket it opened is shut down, waking reads blocked on them."""
        with self._lock:
            self.expired = True
            for twin in self._sockets:
                _shut(twin)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the other side


_CURRENT: ContextVar[Deadline | None] = ContextVar("newsbot_fetch_deadline", default=None)


def current() -> Deadline | None:
    """The deadline of the fetch running here, if any."""
    return _CURRENT.get()


def resolve(host: str, port: int, seconds: float) -> list[str]:
    """The addresses of `host`, without duplicates; `TimeoutError` if the lookup takes over `seconds`.

    `getaddrinfo` itself cannot be given a timeout, so it runs on a helper thread; a lookup that
    outlasts the limit is left to finish there (the resolver's own timeouts end it).
    """
    outcome: list[list[str] | BaseException] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            outcome.append(list(dict.fromkeys(info[4][0] for info in infos)))
        except BaseException as exc:  # handed to the caller
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    if not done.wait(seconds):
        raise TimeoutError(f"looking up {host} took over {seconds:g}s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]
