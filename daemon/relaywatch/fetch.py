"""HTTP fetching that a hostile or broken server cannot hang, flood or trick.

One ``requests.Session`` with a User-Agent naming relaywatch; connect and read timeouts plus a
hard deadline for the whole request (a watchdog shuts the socket when it passes, so a server
trickling a byte a second is cut off); a cap on the body counted after decompression; redirects
followed by hand (counted, http(s) only, permanent ones reported); conditional GET; per-host
politeness (concurrency and minimum delay).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import requests

from . import __version__
from .config import FetchConfig
from .errors import RelaywatchError


class FetchError(RelaywatchError):
    """A request failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


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
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _max_age(cache_control: str | None) -> int | None:
    if not cache_control:
        return None
    for part in cache_control.split(","):
        key, _, value = part.strip().partition("=")
        if key.lower() == "max-age" and value.strip().isdigit():
            return int(value.strip())
    return None


class HostLimiter:
    """At most ``concurrency`` requests in flight per host and ``delay`` seconds between starts."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self.concurrency = concurrency
        self.delay = delay
        self._lock = threading.Lock()
        self._sems: dict[str, threading.BoundedSemaphore] = {}
        self._next: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str, deadline: float | None = None) -> Iterator[None]:
        with self._lock:
            sem = self._sems.setdefault(host, threading.BoundedSemaphore(self.concurrency))
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not sem.acquire(timeout=timeout):
            raise FetchError(f"{host}: too many requests waiting for this host")
        try:
            while True:
                with self._lock:
                    now = time.monotonic()
                    start = self._next.get(host, 0.0)
                    if now >= start:
                        self._next[host] = now + self.delay
                        break
                    wait = start - now
                time.sleep(min(wait, 1.0))
            yield
        finally:
            sem.release()


def _socket_of(resp: requests.Response) -> socket.socket | None:
    raw = resp.raw
    for path in (("_fp", "fp", "raw", "_sock"), ("_connection", "sock")):
        obj: object = raw
        for attr in path:
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if isinstance(obj, socket.socket):
            return obj
    return None


class Fetcher:
    def __init__(self, cfg: FetchConfig, limiter: HostLimiter | None = None) -> None:
        self.cfg = cfg
        self.session = requests.Session()
        self.session.headers.update({
            "User-Agent": user_agent(cfg.contact),
            "Accept": "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9,"
                      " text/xml;q=0.9, text/html;q=0.5, */*;q=0.1",
            "Accept-Encoding": "gzip, deflate",
        })
        self.session.max_redirects = cfg.max_redirects
        self.limiter = limiter or HostLimiter(cfg.per_host_concurrency, cfg.per_host_delay)

    def close(self) -> None:
        self.session.close()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None,
            accept: str | None = None) -> FetchResult:
        """GET with redirects, limits and conditional headers; FetchError on any failure."""
        started = time.monotonic()
        deadline = started + self.cfg.total_timeout
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
        for _hop in range(self.cfg.max_redirects + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError(f"refusing non-http(s) URL {current!r}")
            with self.limiter.slot(parts.hostname, deadline):
                resp = self._request(current, headers, deadline)
            if resp.status_code in (301, 302, 303, 307, 308):
                location = resp.headers.get("Location")
                resp.close()
                if not location:
                    raise FetchError(f"HTTP {resp.status_code} without a Location header", resp.status_code)
                nxt = urljoin(current, location)
                permanent_chain = permanent_chain and resp.status_code in (301, 308)
                if permanent_chain:
                    moved_to = nxt
                current = nxt
                continue
            return self._finish(resp, current, moved_to, deadline, started)
        raise FetchError(f"more than {self.cfg.max_redirects} redirects")

    def _request(self, url: str, headers: dict[str, str], deadline: float) -> requests.Response:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"timed out after {self.cfg.total_timeout:g}s")
        try:
            return self.session.get(url, headers=headers, stream=True, allow_redirects=False,
                                    timeout=(min(self.cfg.connect_timeout, remaining),
                                             min(self.cfg.read_timeout, remaining)))
        except requests.exceptions.ConnectTimeout as e:
            raise FetchError(f"connection timed out ({urlsplit(url).hostname})") from e
        except requests.exceptions.ConnectionError as e:
            raise FetchError(f"cannot connect to {urlsplit(url).netloc}: {_reason(e)}") from e
        except requests.exceptions.Timeout as e:
            raise FetchError("timed out waiting for the server") from e
        except requests.exceptions.RequestException as e:
            raise FetchError(f"request failed: {_reason(e)}") from e

    def _finish(self, resp: requests.Response, url: str, moved_to: str | None, deadline: float,
                started: float) -> FetchResult:
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
                raise FetchError(f"HTTP {status} {resp.reason or ''}".strip(), status, retry)
            result.body = self._read(resp, deadline)
            return result
        finally:
            resp.close()
            result.elapsed = time.monotonic() - started

    def _read(self, resp: requests.Response, deadline: float) -> bytes:
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.cfg.max_bytes and not resp.headers.get("Content-Encoding"):
            raise FetchError(f"response too large: {int(declared):,} bytes (limit {self.cfg.max_bytes:,})",
                             resp.status_code)
        sock = _socket_of(resp)
        expired = threading.Event()

        def cut() -> None:
            expired.set()
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(max(0.0, deadline - time.monotonic()), cut)
        timer.daemon = True
        timer.start()
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.iter_content(65536):
                size += len(chunk)
                if size > self.cfg.max_bytes:
                    raise FetchError(f"response too large: over {self.cfg.max_bytes:,} bytes after decoding",
                                     resp.status_code)
                if time.monotonic() > deadline:
                    raise FetchError(f"timed out after {self.cfg.total_timeout:g}s (server too slow)",
                                     resp.status_code)
                chunks.append(chunk)
        except FetchError:
            raise
        except (requests.exceptions.RequestException, OSError, ValueError) as e:
            if expired.is_set():
                raise FetchError(f"timed out after {self.cfg.total_timeout:g}s (server too slow)",
                                 resp.status_code) from e
            raise FetchError(f"reading the response failed: {_reason(e)}", resp.status_code) from e
        finally:
            timer.cancel()
        if expired.is_set():
            raise FetchError(f"timed out after {self.cfg.total_timeout:g}s (server too slow)", resp.status_code)
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
