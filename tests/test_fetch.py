"""Fetcher limits against a real local HTTP server (127.0.0.1 only)."""

from __future__ import annotations

import gzip
import threading
import time
import tracemalloc
import zlib
from http.server import BaseHTTPRequestHandler

import pytest
from relaywatch.config import FetchConfig
from relaywatch.poll.http import Fetcher, FetchError, HostBusy, HostLimiter, parse_retry_after

from ._servers import Response, TestServer, send_head

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"


def cfg(**kw: object) -> FetchConfig:
    base = FetchConfig(connect_timeout=2.0, read_timeout=5.0, total_timeout=5.0, per_host_delay=0.0,
                       per_host_concurrency=8)
    return base.model_copy(update=kw)


@pytest.fixture
def srv() -> TestServer:
    with TestServer() as s:
        yield s


def test_plain_get_and_conditional(srv: TestServer) -> None:
    def conditional(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            send_head(h, 304, {"ETag": '"v1"'})
            return
        send_head(h, 200, {"ETag": '"v1"', "Content-Length": str(len(FEED)), "Cache-Control": "max-age=3600"})
        h.wfile.write(FEED)

    url = srv.route("/feed.xml", conditional)
    f = Fetcher(cfg())
    r = f.get(url)
    assert r.status == 200 and r.body == FEED and r.etag == '"v1"' and r.max_age == 3600
    r2 = f.get(url, etag=r.etag)
    assert r2.not_modified and r2.body == b""
    assert srv.hits_for("/feed.xml")[1].headers.get("If-None-Match") == '"v1"'
    assert "relaywatch/" in srv.hits_for("/feed.xml")[0].headers["User-Agent"]


def _trickle_body(h: BaseHTTPRequestHandler) -> None:
    send_head(h, 200, {"Content-Type": "text/xml", "Content-Length": "100000"})
    for _ in range(60):  # bounded: at most a minute, a byte a second
        h.wfile.write(b"x")
        h.wfile.flush()
        time.sleep(1.0)


def _trickle_headers(h: BaseHTTPRequestHandler) -> None:
    h.wfile.write(b"HTTP/1.1 200 OK\r\n")
    h.wfile.flush()
    for i in range(60):
        for byte in f"X-Slow-{i}: y\r\n".encode():
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            time.sleep(0.25)


@pytest.mark.parametrize("path,handler", [("/trickle-body", _trickle_body),
                                          ("/trickle-headers", _trickle_headers)])
def test_trickling_server_cut_at_total_timeout(srv: TestServer, path: str, handler: object) -> None:
    url = srv.route(path, handler)  # type: ignore[arg-type]
    f = Fetcher(cfg(total_timeout=1.5, read_timeout=10.0))
    t0 = time.monotonic()
    with pytest.raises(FetchError, match="timed out after 1.5s"):
        f.get(url)
    elapsed = time.monotonic() - t0
    assert 1.4 <= elapsed < 3.0, elapsed


def test_watchdog_does_not_cut_later_requests(srv: TestServer) -> None:
    url = srv.route("/ok.xml", Response(FEED))
    f = Fetcher(cfg(total_timeout=0.4))
    for _ in range(10):
        assert f.get(url).body == FEED
    time.sleep(0.6)  # every earlier deadline has passed: the watchdog must not touch new sockets
    for _ in range(5):
        assert f.get(url).body == FEED


def _bomb(encoding: str, size: int) -> bytes:
    zeros = b"\0" * (1 << 20)
    co = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)  # gzip or zlib framing
    out = [co.compress(zeros) for _ in range(size >> 20)]
    out.append(co.flush())
    return b"".join(out)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_decompression_bomb_capped_after_decoding(srv: TestServer, encoding: str) -> None:
    body = _bomb(encoding, 256 << 20)  # 256 MB of zeros in about 250 KB
    assert len(body) < 1 << 20
    headers = {"Content-Encoding": encoding, "Content-Type": "text/xml"}
    url = srv.route("/bomb", Response(body, headers=headers))
    f = Fetcher(cfg(max_bytes=2_000_000))
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="too large: over 2,000,000 bytes after decoding"):
            f.get(url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 << 20, f"peak {peak:,} bytes while reading a bomb"


def test_compressed_feed_decoded(srv: TestServer) -> None:
    url = srv.route("/gz", Response(gzip.compress(FEED), headers={"Content-Encoding": "gzip"}))
    assert Fetcher(cfg()).get(url).body == FEED


def test_declared_length_over_cap_refused(srv: TestServer) -> None:
    def huge(h: BaseHTTPRequestHandler) -> None:
        send_head(h, 200, {"Content-Length": str(50_000_000)})
        h.wfile.write(b"x" * 1000)

    url = srv.route("/huge", huge)
    with pytest.raises(FetchError, match="too large: 50,000,000 bytes"):
        Fetcher(cfg(max_bytes=1_000_000)).get(url)


def test_redirect_limit(srv: TestServer) -> None:
    for i in range(10):
        srv.route(f"/r{i}", Response(b"", 302, {"Location": f"/r{i + 1}"}))
    srv.route("/r10", Response(FEED))
    with pytest.raises(FetchError, match="more than 3 redirects"):
        Fetcher(cfg(max_redirects=3)).get(srv.url("/r0"))
    assert len([h for h in srv.hits if h.path.startswith("/r")]) == 4
    assert Fetcher(cfg(max_redirects=10)).get(srv.url("/r0")).body == FEED


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml", "gopher://127.0.0.1:70/",
                                    "data:text/xml,<rss/>", "javascript:alert(1)"])
def test_redirect_to_non_http_refused(srv: TestServer, target: str) -> None:
    url = srv.route("/evil", Response(b"", 302, {"Location": target}))
    with pytest.raises(FetchError, match="refusing non-http"):
        Fetcher(cfg()).get(url)


def test_non_http_url_refused() -> None:
    with pytest.raises(FetchError, match="refusing non-http"):
        Fetcher(cfg()).get("file:///etc/passwd")


def test_permanent_and_temporary_redirects(srv: TestServer) -> None:
    srv.route("/new.xml", Response(FEED))
    srv.route("/old.xml", Response(b"", 301, {"Location": "/new.xml"}))
    srv.route("/tmp.xml", Response(b"", 302, {"Location": "/new.xml"}))
    f = Fetcher(cfg())
    r = f.get(srv.url("/old.xml"))
    assert r.moved_to == srv.url("/new.xml") and r.url == srv.url("/new.xml") and r.body == FEED
    assert f.get(srv.url("/tmp.xml")).moved_to is None


def test_redirect_without_location(srv: TestServer) -> None:
    url = srv.route("/noloc", Response(b"", 302))
    with pytest.raises(FetchError, match="without a Location"):
        Fetcher(cfg()).get(url)


def test_retry_after_on_429_and_503(srv: TestServer) -> None:
    srv.route("/429", Response(b"slow down", 429, {"Retry-After": "120"}))
    srv.route("/503", Response(b"busy", 503, {"Retry-After": "Fri, 31 Dec 2100 23:59:59 GMT"}))
    f = Fetcher(cfg(total_timeout=1.0))
    with pytest.raises(FetchError) as e:
        f.get(srv.url("/429"))
    assert e.value.status == 429 and e.value.retry_after == 120.0
    # the host is held back: the next request to it is not even sent
    n = len(srv.hits)
    with pytest.raises(HostBusy, match="Retry-After"):
        f.get(srv.url("/503"))
    assert len(srv.hits) == n
    g = Fetcher(cfg())
    with pytest.raises(FetchError) as e:
        g.get(srv.url("/503"))
    assert e.value.status == 503 and e.value.retry_after == 86400.0  # a far date is capped at a day


def test_parse_retry_after() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("") is None
    assert parse_retry_after("999999999999") == 86400.0


def test_per_host_concurrency_and_delay_enforced(srv: TestServer) -> None:
    def slow(h: BaseHTTPRequestHandler) -> None:
        send_head(h, 200, {"Content-Length": str(len(FEED))})
        h.wfile.flush()
        time.sleep(0.4)  # the body comes late: the slot must be held while it is read
        h.wfile.write(FEED)

    url = srv.route("/slow.xml", slow)
    f = Fetcher(cfg(per_host_concurrency=2, per_host_delay=0.15))
    errors: list[BaseException] = []

    def one() -> None:
        try:
            assert f.get(url).body == FEED
        except BaseException as e:  # noqa: BLE001 - collected for the assert below
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    hits = sorted(srv.hits_for("/slow.xml"), key=lambda h: h.start)
    assert len(hits) == 8
    assert srv.max_active <= 2
    gaps = [b.start - a.start for a, b in zip(hits, hits[1:], strict=False)]
    assert min(gaps) >= 0.10, gaps  # 0.15 s apart as sent; the server sees them with its own threads' jitter
    # at most two at once as the server saw it (start/end intervals; 50 ms for the server's
    # bookkeeping after the client has its last byte)
    events = sorted([(h.start, 1) for h in hits] + [((h.end or 0) - 0.05, -1) for h in hits])
    level, peak = 0, 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    assert peak <= 2


def test_host_limiter_hosts_independent() -> None:
    lim = HostLimiter(1, 10.0)
    with lim.slot("a.example"), lim.slot("b.example"):
        pass  # a second host is not held back by the first one's slot or delay
    t0 = time.monotonic()
    with pytest.raises(HostBusy), lim.slot("a.example", deadline=time.monotonic() + 0.2):
        pass
    assert time.monotonic() - t0 < 1.0


def test_connection_refused_is_one_line() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(FetchError) as e:
        Fetcher(cfg()).get(f"http://127.0.0.1:{port}/feed.xml")
    assert "\n" not in str(e.value) and "cannot connect" in str(e.value)


def test_server_closing_mid_body(srv: TestServer) -> None:
    def cut(h: BaseHTTPRequestHandler) -> None:
        send_head(h, 200, {"Content-Length": "5000"})
        h.wfile.write(b"<rss>")

    url = srv.route("/cut", cut)
    with pytest.raises(FetchError, match="reading the response failed"):
        Fetcher(cfg()).get(url)


def test_broken_compression_is_a_clear_error(srv: TestServer) -> None:
    url = srv.route("/bad.gz", Response(FEED, headers={"Content-Encoding": "gzip"}))
    with pytest.raises(FetchError, match=r"^the body is not valid gzip data \(Content-Encoding: gzip\)$"):
        Fetcher(cfg()).get(url)


def test_urllib3_socket_hook_still_called(srv: TestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """poll/transport.py overrides urllib3's private ``HTTPConnection._new_conn`` to hand each socket
    to the deadline watchdog (hence urllib3 pinned to 2.x): a urllib3 that stopped calling it would
    fail no request, it would only let the deadline go unenforced. Both sessions go through it: the
    feeds' and the one for URLs found in feeds (which connects by itself, after the address check)."""
    from relaywatch.poll import transport

    seen: list[object] = []
    original = transport.register
    monkeypatch.setattr(transport, "register", lambda sock: (seen.append(sock), original(sock)))
    url = srv.route("/hooked.xml", Response(FEED))
    fetcher = Fetcher(cfg(allow_private_networks=True))
    assert fetcher.get(url).body == FEED
    assert len(seen) == 1
    assert fetcher.get(url, from_content=True).body == FEED
    assert len(seen) == 2
