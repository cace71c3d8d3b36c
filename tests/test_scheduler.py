"""The daemon's own jobs beside the feeds': the full-text index catches up with what polls stored."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from relaywatch.config import parse_config
from relaywatch.models import EntryText, ParsedEntry
from relaywatch.poll import scheduler
from relaywatch.poll.scheduler import Daemon
from relaywatch.store import Store

from ._servers import Response, TestServer, rss
from .conftest import make_config


def test_daemon_brings_the_full_text_index_up_to_date(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "TEXT_INDEX_EVERY", 0.5)
    texts = [f"<p>The walrus count {i} of the survey along the northern ice shelf rose again this spring.</p>"
             for i in range(3)]
    with TestServer() as srv:
        url = srv.route("/f.xml", Response(rss([(f"g{i}", f"T{i}", t) for i, t in enumerate(texts)])))
        config = make_config(tmp_path, f'[scheduler]\njitter = 0\n[[feeds]]\nname = "f"\nurl = "{url}"\n'
                                       'interval = "1h"\n')
        store = Store(config.database.path)
        daemon = Daemon(config, store)
        try:
            daemon.start()
            deadline = time.monotonic() + 10
            while store.count("polls") < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert store.count("entries") == 3
            # the poll's own transaction left them waiting (fewer than a batch); the daemon's job indexes them
            while len(store.reports.search("walrus")) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sorted(r["title"] for r in store.reports.search("walrus")) == ["T0", "T1", "T2"]
        finally:
            daemon.stop()
            store.close()


def test_feeds_due_at_start_are_released_in_name_order_a_little_apart(tmp_path: Path) -> None:
    feeds = "".join(f'[[feeds]]\nname = "f{i:04d}"\nurl = "http://127.0.0.1:9/{i}.xml"\n' for i in range(4000))
    config = parse_config(f'[database]\npath = "{tmp_path}/d.db"\n' + feeds)
    store = Store(config.database.path)
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    scheduler.sync_feeds(config, store)
    later = now + timedelta(minutes=20)  # one feed already polled: it keeps its next poll
    store.feeds.save_state(replace(store.feeds.by_name("f0001"), next_poll=later))  # type: ignore[type-var]
    daemon = Daemon(config, store)
    try:
        assert daemon.schedule(now) == 4000
        first = {j.name.removeprefix("poll "): j.next_run_time for j in daemon.scheduler.get_jobs()
                 if j.id.startswith("feed-")}
        assert first["f0001"] == later
        assert [(first[f"f{i:04d}"] - now).total_seconds() for i in (0, 2, 3, 101)] == pytest.approx(
            [0, 0.01, 0.02, 1.0])
        assert max(first[f"f{i:04d}"] for i in range(4000) if i != 1) == now + timedelta(seconds=30)
    finally:
        store.close()


def test_a_refused_full_text_catch_up_is_one_logged_line_and_retried(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    store = Store(tmp_path / "d.db")
    feed = store.feeds.ensure("wire", "wire")
    with store.transaction():  # fewer than a batch: they wait for the catch-up
        for i in range(300):
            words = " ".join(f"w{i}x{k}" for k in range(60))  # distinct words: the index needs pages
            store.entries.insert(feed.id, ParsedEntry(guid=f"g{i}", url="", title=f"Walrus {i}", html="",
                                                    published=None, published_raw=None, date_flag=None),
                               EntryText(f"walrus census {words}"), "h", datetime(2026, 11, 29, tzinfo=UTC))
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full: the index cannot grow
    scheduler.index_text(store)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [f"full-text index not brought up to date: cannot update the full-text index of {store.path}:"
                      " database or disk is full"]
    assert store.reports.search("walrus") == []
    store.conn.execute("PRAGMA max_page_count = 1073741823")
    scheduler.index_text(store)  # the entries waited: they are indexed once there is room again
    assert len(store.reports.search("walrus", limit=500)) == 300
    store.close()
