"""Per-host politeness: how many requests run at once to one host, how far apart they start, and
how long a host that answered 429/503 with Retry-After is left alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from relaywatch.poll.fetcherrors import HostBusy


class HostLimiter:
    """At most ``concurrency`` requests in flight per host and ``delay`` seconds between starts.

    ``defer(host, seconds)`` holds back every request to a host (a 429/503 with Retry-After).
    Waiting for a slot is bounded by ``deadline``; past it :class:`HostBusy` is raised.
    """

    def __init__(self, concurrency: int, delay: float) -> None:
        self.concurrency = max(1, concurrency)
        self.delay = max(0.0, delay)
        self._lock = threading.Lock()
        self._sems: dict[str, threading.BoundedSemaphore] = {}
        self._next: dict[str, float] = {}
        self._blocked: dict[str, float] = {}

    def defer(self, host: str, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            if until > self._blocked.get(host, 0.0):
                self._blocked[host] = until

    def blocked_for(self, host: str) -> float:
        with self._lock:
            return max(0.0, self._blocked.get(host, 0.0) - time.monotonic())

    @contextmanager
    def slot(self, host: str, deadline: float | None = None) -> Iterator[None]:
        with self._lock:
            sem = self._sems.setdefault(host, threading.BoundedSemaphore(self.concurrency))
        self._check_blocked(host, deadline)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not sem.acquire(timeout=timeout):
            raise HostBusy(f"{host}: too many requests waiting for this host")
        try:
            while True:
                with self._lock:
                    now = time.monotonic()
                    start = max(self._next.get(host, 0.0), self._blocked.get(host, 0.0))
                    if now >= start:
                        self._next[host] = now + self.delay
                        break
                    wait = start - now
                if deadline is not None and now + wait > deadline:
                    raise HostBusy(f"{host}: waited too long for this host (politeness delay)")
                time.sleep(min(wait, 1.0))
            yield
        finally:
            sem.release()

    def _check_blocked(self, host: str, deadline: float | None) -> None:
        wait = self.blocked_for(host)
        if wait > 0 and deadline is not None and time.monotonic() + wait > deadline:
            raise HostBusy(f"{host}: the server asked to wait {wait:.0f}s more (Retry-After)")
