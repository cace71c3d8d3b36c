"""``relaywatch demo``: serve the bundled sample feeds on 127.0.0.1 and poll them (works offline).

The example configuration (config/example.toml) lists the sample feeds at
http://127.0.0.1:8765/...; this serves ``demo_data/`` on that address while the feeds are polled
once through the daemon's own code path, one after another in name order, so that every run
prints the same (the daemon polls them at once, in any order, and records the same reposts).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from relaywatch.config import Config
from relaywatch.errors import RelaywatchError
from relaywatch.models import Feed, PollOutcome
from relaywatch.poll.scheduler import poll_once
from relaywatch.store import Store


class DemoError(RelaywatchError):
    pass


def demo_dir() -> Path:
    return Path(str(resources.files("relaywatch") / "demo_data"))


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".xml": "application/xml",
                      ".rdf": "application/rdf+xml", ".atom": "application/atom+xml"}

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@contextmanager
def serve(directory: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve a directory over HTTP on loopback; yields the base URL."""
    handler = functools.partial(_Handler, directory=str(directory))
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as e:
        raise DemoError(f"cannot serve the demo feeds on {host}:{port}: {e.strerror or e}") from e
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def demo_address(config: Config) -> tuple[str, int]:
    for f in config.feeds:
        parts = urlsplit(f.url)
        if parts.hostname in ("127.0.0.1", "localhost") and parts.port:
            return "127.0.0.1", parts.port
    raise DemoError("the config lists no feed on 127.0.0.1:PORT to serve the demo on "
                    "(use config/example.toml)")


def run_demo(config: Config, store: Store) -> list[tuple[Feed, PollOutcome]]:
    """Serve the sample feeds where the config expects them and poll every feed once."""
    host, port = demo_address(config)
    with serve(demo_dir(), host, port):
        one_worker = config.scheduler.model_copy(update={"workers": 1})
        return poll_once(config.model_copy(update={"scheduler": one_worker}), store)
