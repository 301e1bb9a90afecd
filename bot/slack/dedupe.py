"""Remember Events API deliveries by `event_id`, so a re-delivered event is answered at most once.

Slack re-sends an event (with `X-Slack-Retry-Num`) when it thinks the first delivery failed, and behind
a load balancer the re-delivery may reach another process. A re-delivery goes ahead only if no earlier
delivery is still working on it (within a lease) or has answered it. `newsbot serve` keeps the claims
in the state database beside the index (`event_claims`); `EventDeduper` keeps them in memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

KEEP_SECONDS = 3600.0  # Slack stops re-delivering after about 5 minutes; an hour is plenty
LEASE_SECONDS = 120.0  # a claim not finished by then is taken to belong to a process that died


class EventClaims(Protocol):
    """Claims on event ids: `claim` before answering, `finish` after."""

    def claim(self, event_id: str | None) -> bool:
        """True if the caller should answer this delivery; False for a duplicate."""

    def finish(self, event_id: str | None, answered: bool) -> None:
        """Keep the claim when the event was answered; release it so a re-delivery can try again otherwise."""


class EventDeduper:
    """`EventClaims` in this process's memory (thread-safe): for one process, and for tests."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._keep = keep_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._claimed: dict[str, float] = {}  # event id -> time claimed (in progress or answered)

    def claim(self, event_id: str | None) -> bool:
        """True if the caller should answer this delivery; False for a duplicate."""
        if not event_id:
            return True
        now = self._clock()
        with self._lock:
            self._forget_older_than(now - self._keep)
            if event_id in self._claimed:
                return False
            self._claimed[event_id] = now
            return True

    def finish(self, event_id: str | None, answered: bool) -> None:
        """Keep the claim when the event was answered; release it so a re-delivery can try again otherwise."""
        if event_id and not answered:
            with self._lock:
                self._claimed.pop(event_id, None)

    def _forget_older_than(self, limit: float) -> None:
        """Drop claims older than `limit` so memory stays bounded."""
        while self._claimed:  # dicts keep insertion order, which is claim-time order here
            oldest = next(iter(self._claimed))
            if self._claimed[oldest] >= limit:
                return
            del self._claimed[oldest]
