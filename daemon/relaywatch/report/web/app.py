"""``relaywatch serve``: Datasette over the database, with relaywatch's metadata (``datasette.yaml``:
table descriptions and canned queries) and its plugin's settings applied, served by uvicorn.

The socket is bound here, before uvicorn starts, so that an address in use is one clear error and
port 0 picks a free port (the address actually served is printed). Datasette opens a database
it may change with ``mode=ro`` connections for reading; nothing here writes, so the daemon can
keep writing to the same file (WAL).
"""

from __future__ import annotations

import copy
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from datasette.app import Datasette

from relaywatch.config import Config
from relaywatch.report.web.pages import WebError
from relaywatch.report.web.plugin import NAME


def metadata(config: Config, database: str) -> dict[str, Any]:
    """relaywatch's Datasette metadata for the database Datasette names ``database``, with the
    plugin's settings (the database, its path, the zone for times)."""
    text = (resources.files("relaywatch") / "datasette.yaml").read_text(encoding="utf-8")
    meta: dict[str, Any] = yaml.safe_load(text)
    dbs = meta.get("databases", {})
    meta["databases"] = {database: copy.deepcopy(next(iter(dbs.values())))} if dbs else {}
    meta["plugins"] = {NAME: {"database": database, "db_path": str(Path(config.database.path).resolve()),
                              "timezone": config.digest.timezone, "busy_timeout": config.database.busy_timeout}}
    return meta


def make_datasette(config: Config) -> Datasette:
    """A Datasette instance over the configured database, relaywatch's plugin on."""
    path = Path(config.database.path)
    if not path.is_file():
        raise WebError(f"no database at {path}: poll some feeds first (relaywatch poll --once)")
    return Datasette([str(path)], metadata=metadata(config, path.stem),
                     settings={"default_page_size": 50, "sql_time_limit_ms": 3000})


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise WebError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    return sock


def serve(config: Config, host: str, port: int, announce: Callable[[str], None] = print) -> None:
    """Serve the web view on host:port until SIGINT (Ctrl-C) or SIGTERM, which end it normally."""
    import uvicorn

    ds = make_datasette(config)
    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    announce(f"relaywatch: serving {config.database.path} on http://{shown}:{bound_port}/ (Ctrl-C stops)")
    server = uvicorn.Server(uvicorn.Config(ds.app(), log_level="warning", lifespan="on"))
    with _stop_on_signals(server):
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()


@contextmanager
def _stop_on_signals(server: Any) -> Iterator[None]:
    """SIGINT and SIGTERM end the server normally (exit status 0), also before it has started.
    uvicorn handles both while it runs, then raises the signal again for the handler it found
    installed: this one, which only asks the server to stop (again)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(_signum: int, _frame: object) -> None:
        server.should_exit = True

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
