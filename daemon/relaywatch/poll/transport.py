"""The sockets under ``http.Fetcher``: a watchdog that shuts a request's sockets when its deadline
passes, and the urllib3 connection classes that hand each new socket to it and, for a request
whose URL came from feed content, connect only to an address ``netguard.AddressPolicy`` allows.

The ``Guard`` of the request being made on this thread is found through a thread-local
(``on_this_thread``): urllib3 opens the socket deep inside ``requests``, with no way to pass it.
The ``AddressPolicy`` belongs to the adapter (so to the session) that makes the connection: the
session for feed content has one, the session for the feeds the user configured has none.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import sys
import threading
import time
from contextlib import suppress
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from relaywatch.poll.netguard import AddressPolicy


class Guard:
    """The sockets of one request and its deadline; ``cut`` shuts them all."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self.done = False
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            cut_now = self.expired
        if cut_now:
            _shut(sock)

    def cut(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            socks = list(self._socks)
        for s in socks:
            _shut(s)

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self._socks.clear()


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread that cuts the requests whose deadline has passed."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Guard]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, guard: Guard) -> None:
        with self._cond:
            heapq.heappush(self._heap, (guard.deadline, next(self._seq), guard))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="relaywatch-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                # drop finished guards from the top so the heap stays small
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait(60.0)
                    continue
                deadline = self._heap[0][0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(min(wait, 60.0))
                    continue
                _, _, guard = heapq.heappop(self._heap)
            guard.cut()


WATCHDOG = _Watchdog()
on_this_thread = threading.local()  # ``guard``: the Guard of the request this thread is making, if any


def register(sock: socket.socket) -> None:
    guard: Guard | None = getattr(on_this_thread, "guard", None)
    if guard is not None:
        guard.add(sock)


def _pinned(conn: HTTPConnection, policy: AddressPolicy) -> socket.socket:
    """``HTTPConnection._new_conn`` with the policy's resolve-check-connect in place of urllib3's
    ``create_connection``, raising what urllib3 raises so that requests reports it the same way
    (an :class:`AddressRefused` goes through untouched)."""
    timeout = conn.timeout if isinstance(conn.timeout, int | float) else None
    try:
        sock = policy.connect(conn._dns_host, conn.port, timeout, conn.socket_options or ())
    except socket.gaierror as e:
        raise NameResolutionError(conn.host, conn, e) from e
    except TimeoutError as e:
        raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out. (connect timeout={timeout})") from e
    except OSError as e:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {e}") from e
    sys.audit("http.client.connect", conn, conn.host, conn.port)
    return sock


# urllib3 internals relied on below, hence ``urllib3>=2.2,<3`` in pyproject.toml: the private
# ``HTTPConnection._new_conn`` (it opens the TCP socket; overridden to hand the socket to the
# watchdog, and to connect only where the address policy allows), its ``_dns_host``,
# ``HTTPConnectionPool.ConnectionCls`` and requests' ``poolmanager.pool_classes_by_scheme``.
# urllib3 has no public hook for the socket it opens, so a new major release may rename or drop
# these without notice. An override that is no longer called fails nothing by itself, the deadline
# and the address check just stop holding: tests/test_fetch.py checks the hook is there, that
# trickling servers are cut, and tests/test_netguard.py that private addresses are refused.
class GuardedHTTPConnection(HTTPConnection):
    policy: AddressPolicy | None = None  # set on the subclass an adapter with a policy makes

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn() if self.policy is None else _pinned(self, self.policy)
        register(sock)
        return sock


class GuardedHTTPSConnection(HTTPSConnection):
    policy: AddressPolicy | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn() if self.policy is None else _pinned(self, self.policy)
        register(sock)  # the TCP socket under TLS: shutting it also stops a trickled handshake
        return sock


class GuardedAdapter(HTTPAdapter):
    """Sockets watched by the deadline watchdog; with a ``policy``, connected only where it allows."""

    def __init__(self, policy: AddressPolicy | None = None, **kwargs: Any) -> None:
        self.policy = policy  # before super().__init__, which builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        ns = {"policy": self.policy}
        http_pool = type("GuardedHTTPPool", (HTTPConnectionPool,),
                         {"ConnectionCls": type("_HTTPConnection", (GuardedHTTPConnection,), ns)})
        https_pool = type("GuardedHTTPSPool", (HTTPSConnectionPool,),
                          {"ConnectionCls": type("_HTTPSConnection", (GuardedHTTPSConnection,), ns)})
        self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}
