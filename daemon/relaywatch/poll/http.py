"""HTTP fetching that a hostile or broken server cannot hang, flood or trick.

A ``requests.Session`` with a User-Agent naming relaywatch; connect and read timeouts plus a
hard deadline for the whole request, headers and body (a watchdog thread shuts the request's
sockets when it passes, so a server trickling a byte a second, in the headers or in the body,
is cut off); a cap on the body counted after decompression; redirects followed by hand
(counted, http(s) only, permanent ones reported); conditional GET; per-host politeness
(concurrency and minimum delay between request starts, held for the whole request, body
included; a 429/503 with Retry-After holds back every request to that host).

Connections are not kept alive (``Connection: close``): a feed is polled every few minutes at
most, and a socket used by one request only is one the watchdog can shut without harming
another request.

A URL found in feed content (an article page, its robots.txt) is fetched with ``from_content=True``:
through a second session whose connections go only to public addresses (``netguard``), on every
redirect hop, unless ``[fetch] allow_private_networks``. The parts: ``transport`` (the watchdog and
urllib3's sockets), ``netguard`` (the addresses), ``hostlimit`` (per-host politeness),
``fetcherrors``; this module puts them together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import requests

from relaywatch import __version__
from relaywatch.config import FetchConfig
from relaywatch.poll.fetcherrors import AddressRefused, FetchError, HostBusy
from relaywatch.poll.hostlimit import HostLimiter
from relaywatch.poll.netguard import AddressPolicy
from relaywatch.poll.transport import WATCHDOG, Guard, GuardedAdapter, on_this_thread

__all__ = ["AddressRefused", "FetchError", "FetchResult", "Fetcher", "HostBusy", "HostLimiter", "parse_retry_after",
           "user_agent"]

MAX_RETRY_AFTER = 86400.0  # a Retry-After longer than a day is not believed


def _direct() -> dict[str, str | None]:
    """``proxies`` for a request from feed content: direct, not through $HTTP_PROXY / $ALL_PROXY,
    since the address the guard checks must be the one connected to (a None drops the environment's
    value in requests; a new dict each time, as requests adds to it)."""
    return {"http": None, "https": None, "all": None}


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


# -- the fetcher -------------------------------------------------------------------------------

def _session(cfg: FetchConfig, policy: AddressPolicy | None) -> requests.Session:
    session = requests.Session()
    # one pool per host; it never holds more connections than the host may have in flight
    adapter = GuardedAdapter(policy, pool_connections=32, pool_maxsize=max(4, cfg.per_host_concurrency),
                             max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({
        "User-Agent": user_agent(cfg.contact),
        "Accept": "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9,"
                  " text/xml;q=0.9, text/html;q=0.5, */*;q=0.1",
        "Accept-Encoding": "gzip, deflate",
        "Connection": "close",
    })
    session.max_redirects = cfg.max_redirects
    return session


class Fetcher:
    """``get`` fetches a URL the user configured (``session``); ``get(..., from_content=True)`` one
    found in feed content (``content_session``: its connections go where ``policy`` allows; by
    default public addresses only, unless ``cfg.allow_private_networks``)."""

    def __init__(self, cfg: FetchConfig, limiter: HostLimiter | None = None,
                 policy: AddressPolicy | None = None) -> None:
        self.cfg = cfg
        self.policy = policy or AddressPolicy(cfg.allow_private_networks)
        self.session = _session(cfg, None)
        self.content_session = _session(cfg, self.policy)
        self.limiter = limiter or HostLimiter(cfg.per_host_concurrency, cfg.per_host_delay)

    def close(self) -> None:
        self.session.close()
        self.content_session.close()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None,
            accept: str | None = None, from_content: bool = False) -> FetchResult:
        """GET with redirects, limits and conditional headers; FetchError on any failure
        (:class:`AddressRefused`: ``from_content`` and a hop led to a private network). The clock
        of ``total_timeout`` starts when the first request is sent (after the wait for the host's
        politeness slot, itself bounded by ``total_timeout``) and covers every hop, headers, body."""
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
        guard: Guard | None = None
        try:
            for _hop in range(self.cfg.max_redirects + 1):
                parts = urlsplit(current)
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise FetchError(f"refusing non-http(s) URL {current[:200]!r}")
                wait_until = guard.deadline if guard else time.monotonic() + self.cfg.total_timeout
                with self.limiter.slot(parts.hostname, wait_until):
                    if guard is None:
                        guard = Guard(time.monotonic() + self.cfg.total_timeout)
                        WATCHDOG.watch(guard)
                        on_this_thread.guard = guard
                    resp = self._request(current, headers, guard, from_content)
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
            on_this_thread.guard = None
            if guard is not None:
                guard.finish()

    def _timed_out(self, status: int | None = None) -> FetchError:
        return FetchError(f"timed out after {self.cfg.total_timeout:g}s (server too slow)", status)

    def _request(self, url: str, headers: dict[str, str], guard: Guard, from_content: bool) -> requests.Response:
        remaining = guard.deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out()
        try:
            session = self.content_session if from_content else self.session
            return session.get(url, headers=headers, stream=True, allow_redirects=False,
                               proxies=_direct() if from_content and not self.policy.allow_private else None,
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

    def _finish(self, resp: requests.Response, url: str, moved_to: str | None, guard: Guard,
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

    def _read(self, resp: requests.Response, guard: Guard) -> bytes:
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
