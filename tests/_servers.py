"""A small threaded HTTP server on 127.0.0.1 for the fetch, poll, fault and robustness tests.

Routes map a path to a fixed response or to a function that writes the response itself (to
trickle, stall or misbehave). Every request is recorded with its start time (monotonic) and
headers, so tests can count hits and measure spacing as the server saw it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Hit:
    path: str
    start: float
    end: float | None
    headers: dict[str, str]


@dataclass
class Response:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[BaseHTTPRequestHandler], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class _Server6(_Server):
    address_family = socket.AF_INET6


class TestServer:
    """``with TestServer() as srv: srv.route("/a.xml", Response(b"..."))``; ``srv.url("/a.xml")``."""

    __test__ = False  # not a pytest test class

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Response | Handler] = {}
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base class name
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = urlsplit(self.path).path
                hit = Hit(path, time.monotonic(), None, {k: v for k, v in self.headers.items()})
                with outer.lock:
                    outer.hits.append(hit)
                    outer.active += 1
                    outer.max_active = max(outer.max_active, outer.active)
                try:
                    route = outer.routes.get(path)
                    if route is None:
                        self._send(Response(b"not found", 404))
                    elif isinstance(route, Response):
                        self._send(route)
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass
                finally:
                    hit.end = time.monotonic()
                    with outer.lock:
                        outer.active -= 1
                    self.close_connection = True

            def _send(self, r: Response) -> None:
                self.send_response(r.status)
                for k, v in r.headers.items():
                    self.send_header(k, v)
                if not any(k.lower() == "content-length" for k in r.headers):
                    self.send_header("Content-Length", str(len(r.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(r.body)

        self.httpd = (_Server6 if ":" in host else _Server)((host, port), _H)
        self.port = self.httpd.server_address[1]
        self.host = host
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def url(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def route(self, path: str, response: Response | Handler) -> str:
        self.routes[path] = response
        return self.url(path)

    def hits_for(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]

    def __enter__(self) -> TestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


@contextmanager
def serving(host: str = "127.0.0.1", port: int = 0) -> Iterator[TestServer]:
    with TestServer(host, port) as srv:
        yield srv


def send_head(h: BaseHTTPRequestHandler, status: int = 200, headers: dict[str, str] | None = None) -> None:
    """Status line and headers only (the caller writes the body itself)."""
    h.send_response(status)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.send_header("Connection", "close")
    h.end_headers()


def rss(items: list[tuple[str, str, str]], title: str = "Test feed", extra_channel: str = "",
        pub_dates: list[str] | None = None) -> bytes:
    """An RSS 2.0 document: items are (guid, title, description html)."""
    parts = []
    for i, (guid, t, d) in enumerate(items):
        date = f"<pubDate>{pub_dates[i]}</pubDate>" if pub_dates else ""
        parts.append(f"<item><guid isPermaLink=\"false\">{guid}</guid><title>{t}</title>"
                     f"<link>http://127.0.0.1/{guid}</link>{date}<description><![CDATA[{d}]]></description></item>")
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
            f"<rss version=\"2.0\"><channel><title>{title}</title><link>http://127.0.0.1/</link>{extra_channel}{''.join(parts)}</channel></rss>").encode()
