"""The daemon's own jobs beside the feeds': the full-text index catches up with what polls stored."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from relaywatch import scheduler
from relaywatch.config import parse_config
from relaywatch.scheduler import Daemon
from relaywatch.store import Store

from ._servers import Response, TestServer, rss


def test_daemon_brings_the_full_text_index_up_to_date(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "TEXT_INDEX_EVERY", 0.5)
    texts = [f"<p>The walrus count {i} of the survey along the northern ice shelf rose again this spring.</p>"
             for i in range(3)]
    with TestServer() as srv:
        url = srv.route("/f.xml", Response(rss([(f"g{i}", f"T{i}", t) for i, t in enumerate(texts)])))
        config = parse_config(f'[database]\npath = "{tmp_path}/d.db"\n[defaults]\nsummary_words = 0\n'
                              f"[fetch]\nper_host_delay = 0\n[scheduler]\njitter = 0\n"
                              f'[[feeds]]\nname = "f"\nurl = "{url}"\ninterval = "1h"\n')
        store = Store(config.database.path)
        daemon = Daemon(config, store)
        try:
            daemon.start()
            deadline = time.monotonic() + 10
            while store.count("polls") < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert store.count("entries") == 3
            # the poll's own transaction left them waiting (fewer than a batch); the daemon's job indexes them
            while len(store.search_entries("walrus")) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sorted(r["title"] for r in store.search_entries("walrus")) == ["T0", "T1", "T2"]
        finally:
            daemon.stop()
            store.close()
