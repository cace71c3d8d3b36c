"""HTTP fetching that a hostile or broken server cannot hang, flood or trick.

One ``requests.Session`` with a User-Agent naming relaywatch; connect and read timeouts plus a
hard deadline for the whole request, headers and body (a watchdog thread shuts the request's
sockets when it passes, so a server trickling a byte a second, in the headers or in the body,
is cut off); a cap on the body counted after decompression; redirects followed by hand
(counted, http(s) only, permanent ones reported); conditional GET; per-host politeness
(concurrency and minimum delay between request starts, held for the whole request, body
included; a 429/503 with Retry-After holds back every request to that host).

Connections are not kept alive (``Connection: close``): a feed is polled every few minutes at
most, and a socket used by one request only is one the watchdog can shut without harming
another request.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from relaywatch import __version__
from relaywatch.config import FetchConfig
from relaywatch.errors import RelaywatchError

MAX_RETRY_AFTER = 86400.0  # a Retry-After longer than a day is not believed


class FetchError(RelaywatchError):
    """A request failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class HostBusy(FetchError):
    """No request was sent: the host's politeness slot did not come free in time (not the feed's fault)."""


@dataclass
class FetchResult:
    status: int
    url: str                      # the final URL, after redirects
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None   # the target of a permanent redirect (301/308)
    not_modified: bool = False
    gone: bool = False
    max_age: int | None = None    # Cache-Control max-age, seconds
    elapsed: float = 0.0


def user_agent(contact: str = "") -> str:
    extra = f"; +{contact}" if contact else ""
    return f"relaywatch/{__version__} (repost monitor{extra}) python-requests/{requests.__version__}"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        return None
    wait = when.timestamp() - (now if now is not None else time.time())
    return min(max(0.0, wait), MAX_RETRY_AFTER)


def _max_age(cache_control: str | None) -> int | None:
    if not cache_control:
        return None
    for part in cache_control.split(","):
        key, _, value = part.strip().partition("=")
        value = value.strip().strip('"')
        if key.lower() == "max-age" and value.isdigit():
            return int(value[:12])
    return None


# -- the deadline watchdog ---------------------------------------------------------------------

class _Guard:
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
        self._heap: list[tuple[float, int, _Guard]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, guard: _Guard) -> None:
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


_WATCHDOG = _Watchdog()
_current = threading.local()


def _register(sock: socket.socket) -> None:
    guard: _Guard | None = getattr(_current, "guard", None)
    if guard is not None:
        guard.add(sock)


# urllib3 internals relied on below, hence ``urllib3>=2.2,<3`` in pyproject.toml: the private
# ``HTTPConnection._new_conn`` (it opens the TCP socket; overridden to hand the socket to the
# watchdog), ``HTTPConnectionPool.ConnectionCls`` and requests' ``poolmanager.pool_classes_by_scheme``.
# urllib3 has no public hook for the socket it opens, so a new major release may rename or drop
# these without notice. An override that is no longer called fails nothing by itself, the deadline
# just stops holding: tests/test_fetch.py checks the hook is there and that trickling servers are cut.
class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _register(sock)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _register(sock)  # the TCP socket under TLS: shutting it also stops a trickled handshake
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


# -- per-host politeness -----------------------------------------------------------------------

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


# -- the fetcher -------------------------------------------------------------------------------

class Fetcher:
    def __init__(self, cfg: FetchConfig, limiter: HostLimiter | None = None) -> None:
        self.cfg = cfg
        self.session = requests.Session()
        # one pool per host; it never holds more connections than the host may have in flight
        adapter = _GuardedAdapter(pool_connections=32, pool_maxsize=max(4, cfg.per_host_concurrency),
                                  max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({
            "User-Agent": user_agent(cfg.contact),
            "Accept": "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9,"
                      " text/xml;q=0.9, text/html;q=0.5, */*;q=0.1",
            "Accept-Encoding": "gzip, deflate",
            "Connection": "close",
        })
        self.session.max_redirects = cfg.max_redirects
        self.limiter = limiter or HostLimiter(cfg.per_host_concurrency, cfg.per_host_delay)

    def close(self) -> None:
        self.session.close()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None,
            accept: str | None = None) -> FetchResult:
        """GET with redirects, limits and conditional headers; FetchError on any failure.

        The clock of ``total_timeout`` starts when the first request is sent (after the wait
        for the host's politeness slot, itself bounded by ``total_timeout``) and covers every
        redirect hop, the headers and the body.
        """
        started = time.monotonic()
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        moved_to = None
        current = url
        permanent_chain = True
        guard: _Guard | None = None
        try:
            for _hop in range(self.cfg.max_redirects + 1):
                parts = urlsplit(current)
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise FetchError(f"refusing non-http(s) URL {current[:200]!r}")
                wait_until = guard.deadline if guard else time.monotonic() + self.cfg.total_timeout
                with self.limiter.slot(parts.hostname, wait_until):
                    if guard is None:
                        guard = _Guard(time.monotonic() + self.cfg.total_timeout)
                        _WATCHDOG.watch(guard)
                        _current.guard = guard
                    resp = self._request(current, headers, guard)
                    if resp.status_code in (301, 302, 303, 307, 308):
                        location = resp.headers.get("Location")
                        resp.close()
                        if not location:
                            raise FetchError(f"HTTP {resp.status_code} without a Location header",
                                             resp.status_code)
                        nxt = urljoin(current, location.strip())
                        permanent_chain = permanent_chain and resp.status_code in (301, 308)
                        if permanent_chain:
                            moved_to = nxt
                        current = nxt
                        continue
                    return self._finish(resp, current, moved_to, guard, started, parts.hostname)
            raise FetchError(f"more than {self.cfg.max_redirects} redirects")
        finally:
            _current.guard = None
            if guard is not None:
                guard.finish()

    def _timed_out(self, status: int | None = None) -> FetchError:
        return FetchError(f"timed out after {self.cfg.total_timeout:g}s (server too slow)", status)

    def _request(self, url: str, headers: dict[str, str], guard: _Guard) -> requests.Response:
        remaining = guard.deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out()
        try:
            return self.session.get(url, headers=headers, stream=True, allow_redirects=False,
                                    timeout=(min(self.cfg.connect_timeout, remaining),
                                             min(self.cfg.read_timeout, remaining)))
        except requests.exceptions.ConnectTimeout as e:
            raise FetchError(f"connection timed out ({urlsplit(url).hostname})") from e
        except requests.exceptions.ConnectionError as e:
            if guard.expired:
                raise self._timed_out() from e
            raise FetchError(f"cannot connect to {urlsplit(url).netloc}: {_reason(e)}") from e
        except requests.exceptions.Timeout as e:
            raise FetchError("timed out waiting for the server") from e
        except requests.exceptions.RequestException as e:
            if guard.expired:
                raise self._timed_out() from e
            raise FetchError(f"request failed: {_reason(e)}") from e
        except (OSError, ValueError) as e:  # an odd URL or socket state that requests did not wrap
            if guard.expired:
                raise self._timed_out() from e
            raise FetchError(f"request failed: {type(e).__name__}: {_reason(e)}") from e

    def _finish(self, resp: requests.Response, url: str, moved_to: str | None, guard: _Guard,
                started: float, host: str) -> FetchResult:
        status = resp.status_code
        h = {k: v for k, v in resp.headers.items()}
        result = FetchResult(status=status, url=url, headers=h, etag=resp.headers.get("ETag"),
                             last_modified=resp.headers.get("Last-Modified"), moved_to=moved_to,
                             max_age=_max_age(resp.headers.get("Cache-Control")))
        try:
            if status == 304:
                result.not_modified = True
                return result
            if status == 410:
                result.gone = True
                return result
            if status >= 400:
                retry = parse_retry_after(resp.headers.get("Retry-After")) if status in (429, 503) else None
                if retry:
                    self.limiter.defer(host, retry)
                reason = " ".join((resp.reason or "").split())[:80]
                raise FetchError(f"HTTP {status} {reason}".strip(), status, retry)
            result.body = self._read(resp, guard)
            return result
        finally:
            resp.close()
            result.elapsed = time.monotonic() - started

    def _read(self, resp: requests.Response, guard: _Guard) -> bytes:
        declared = resp.headers.get("Content-Length", "").strip()
        encoded = bool(resp.headers.get("Content-Encoding"))
        if declared.isdigit() and int(declared) > self.cfg.max_bytes and not encoded:
            raise FetchError(f"response too large: {int(declared):,} bytes (limit {self.cfg.max_bytes:,})",
                             resp.status_code)
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.iter_content(65536):
                size += len(chunk)
                if size > self.cfg.max_bytes:
                    raise FetchError(f"response too large: over {self.cfg.max_bytes:,} bytes after decoding",
                                     resp.status_code)
                if guard.expired or time.monotonic() > guard.deadline:
                    raise self._timed_out(resp.status_code)
                chunks.append(chunk)
        except FetchError:
            raise
        except requests.exceptions.ContentDecodingError as e:
            encoding = " ".join(resp.headers.get("Content-Encoding", "").split())[:40]
            raise FetchError(f"the body is not valid {encoding or 'compressed'} data (Content-Encoding: {encoding})",
                             resp.status_code) from e
        except (requests.exceptions.RequestException, OSError, ValueError) as e:
            if guard.expired:
                raise self._timed_out(resp.status_code) from e
            raise FetchError(f"reading the response failed: {_reason(e)}", resp.status_code) from e
        except Exception as e:  # urllib3/http.client on a broken stream: one line, never a crash
            if guard.expired:
                raise self._timed_out(resp.status_code) from e
            raise FetchError(f"reading the response failed: {type(e).__name__}: {_reason(e)}",
                             resp.status_code) from e
        if guard.expired:
            raise self._timed_out(resp.status_code)
        return b"".join(chunks)


def _reason(e: BaseException) -> str:
    """The innermost useful words of a requests/urllib3 exception, on one line."""
    text = str(e)
    for marker in ("Errno", "Failed to resolve", "Connection refused", "Name or service not known",
                   "Read timed out", "Connection reset"):
        if marker in text:
            i = text.find(marker)
            text = text[i:]
            break
    text = text.split("'))")[0].split("))")[0]
    return " ".join(text.split())[:200]
