"""Poller: polling state after Retry-After, TTL / max-age, busy hosts, limits; errors recorded on the feed."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from relaywatch.config import Config
from relaywatch.models import Feed
from relaywatch.poll.http import HostLimiter
from relaywatch.poll.poller import MAX_TTL, POOL_BYTES, Poller, PollError, next_interval, work_on
from relaywatch.store import Store, stored_content_hashes

from ._servers import Response, TestServer, rss
from .conftest import make_config

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ITEMS = [(f"g{i}", f"Story {i}", f"<p>Body of story number {i} with a few words.</p>") for i in range(3)]


@pytest.fixture
def srv() -> TestServer:
    with TestServer() as s:
        yield s


def _feed(store: Store, url: str, name: str = "f", interval: int = 1800) -> Feed:
    return store.feeds.upsert(name, url, "outlet", (), interval, "cli")


def _poller(config: Config, store: Store) -> Poller:
    return Poller(config, store, rng=random.Random(1))


def _seconds_until_next(store: Store, feed: Feed) -> float:
    after = store.feeds.get(feed.id)
    assert after.next_poll is not None
    return (after.next_poll - NOW).total_seconds()


def test_next_interval_pure() -> None:
    assert next_interval(1800, 0, 21600, 0.0) == 1800
    assert next_interval(1800, 0, 21600, 0.0, min_interval=7200) == 7200
    assert 1800 <= next_interval(1800, 0, 21600, 0.99) <= 1980
    assert next_interval(1800, 1, 21600, 0.5) == 450
    assert next_interval(1800, 10, 21600, 0.5) == 21600
    assert next_interval(1800, 1, 21600, 0.5, retry_after=7200) == 7200
    assert next_interval(1800, 1, 21600, 0.5, retry_after=10**9) == 21600 * 4


def test_busy_host_defers_without_failure(srv: TestServer, tmp_path: Path, store: Store) -> None:
    url = srv.route("/f.xml", Response(rss(ITEMS)))
    feed = _feed(store, url)
    poller = _poller(make_config(tmp_path, "total_timeout = 0.5\n"), store)
    poller.fetcher.limiter = HostLimiter(1, 30.0)
    with poller.fetcher.limiter.slot("127.0.0.1"):  # another request holds the host's only slot
        out = poller.poll(feed, NOW)
    assert out.error and out.error.startswith("deferred:") and srv.hits == []
    after = store.feeds.get(feed.id)
    assert after.failures == 0 and after.status == "new"
    assert 30 <= _seconds_until_next(store, feed) <= 120


def test_ok_poll_records_entries_and_state(srv: TestServer, tmp_path: Path, store: Store) -> None:
    url = srv.route("/f.xml", Response(rss(ITEMS), headers={"Content-Type": "application/rss+xml",
                                                            "ETag": '"e1"'}))
    feed = _feed(store, url)
    out = _poller(make_config(tmp_path), store).poll(feed, NOW)
    assert out.error is None and out.new_entries == 3 and out.recorded
    after = store.feeds.get(feed.id)
    assert after.status == "ok" and after.etag == '"e1"' and after.failures == 0
    assert 1800 <= _seconds_until_next(store, feed) <= 1980
    assert store.count("entries") == 3 and store.count("polls") == 1


@pytest.mark.parametrize("status,retry_after,wait", [
    (429, "7200", 7200), (503, "Fri, 28 Nov 2026 15:00:00 GMT", None), (429, None, None)])
def test_retry_after_honoured(srv: TestServer, tmp_path: Path, store: Store, status: int,
                              retry_after: str | None, wait: int | None) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    url = srv.route("/f.xml", Response(b"busy", status, headers))
    feed = _feed(store, url)
    poller = _poller(make_config(tmp_path), store)
    poller.poll(feed, NOW)
    after = store.feeds.get(feed.id)
    assert after.status == "error" and after.failures == 1 and after.last_status == status
    assert after.last_error and after.last_error.startswith(f"HTTP {status}") and "\n" not in after.last_error
    left = _seconds_until_next(store, feed)
    if retry_after is None:
        assert left < 600  # plain backoff: max(60 s, interval / 4), jittered
    elif wait is not None:
        assert left >= wait
    else:  # an HTTP-date: honoured relative to the real clock, at least the backoff
        assert left >= 450 * 0.75


def test_retry_after_holds_back_the_host(srv: TestServer, tmp_path: Path, store: Store) -> None:
    srv.route("/a.xml", Response(b"slow down", 429, {"Retry-After": "3600"}))
    srv.route("/b.xml", Response(rss(ITEMS)))
    a, b = _feed(store, srv.url("/a.xml"), "a"), _feed(store, srv.url("/b.xml"), "b")
    poller = _poller(make_config(tmp_path, "total_timeout = 1\n"), store)
    poller.poll(a, NOW)
    out = poller.poll(b, NOW)
    assert out.error and out.error.startswith("deferred:")
    assert srv.hits_for("/b.xml") == []
    after = store.feeds.get(b.id)
    assert after.failures == 0 and after.status == "new"  # not the feed's fault
    assert 3600 - 5 <= _seconds_until_next(store, b) <= 3600 + 120  # after the host's Retry-After


@pytest.mark.parametrize("extra_channel,headers,honor,low,high", [
    ("<ttl>180</ttl>", {}, True, 3 * 3600, 3 * 3600 * 1.1),
    ("<ttl>180</ttl>", {}, False, 1800, 1980),
    ("", {"Cache-Control": "public, max-age=7200"}, True, 7200, 7200 * 1.1),
    ("<ttl>60</ttl>", {"Cache-Control": "max-age=600"}, True, 3600, 3960),
    ("<ttl>5</ttl>", {"Cache-Control": "max-age=60"}, True, 1800, 1980),  # shorter than the interval
    ("<ttl>99999999</ttl>", {}, True, MAX_TTL, MAX_TTL * 1.1),  # capped at a day
])
def test_ttl_and_max_age_lower_bound(srv: TestServer, tmp_path: Path, store: Store, extra_channel: str,
                                     headers: dict[str, str], honor: bool, low: float, high: float) -> None:
    url = srv.route("/f.xml", Response(rss(ITEMS, extra_channel=extra_channel), headers=headers))
    feed = _feed(store, url)
    config = make_config(tmp_path)
    if not honor:
        config = config.model_copy(update={"defaults": config.defaults.model_copy(update={"honor_ttl": False})})
    _poller(config, store).poll(feed, NOW)
    assert low <= _seconds_until_next(store, feed) <= high


def test_ttl_forgotten_when_feed_stops_asking(srv: TestServer, tmp_path: Path, store: Store) -> None:
    srv.route("/f.xml", Response(rss(ITEMS, extra_channel="<ttl>240</ttl>")))
    feed = _feed(store, srv.url("/f.xml"))
    poller = _poller(make_config(tmp_path), store)
    poller.poll(feed, NOW)
    assert store.feeds.get(feed.id).min_interval == 240 * 60
    srv.route("/f.xml", Response(rss(ITEMS)))
    poller.poll(store.feeds.get(feed.id), NOW)
    assert store.feeds.get(feed.id).min_interval is None
    assert _seconds_until_next(store, feed) <= 1980


def test_304_keeps_state(srv: TestServer, tmp_path: Path, store: Store) -> None:
    srv.route("/f.xml", Response(rss(ITEMS, extra_channel="<ttl>120</ttl>"), headers={"ETag": '"x"'}))
    feed = _feed(store, srv.url("/f.xml"))
    poller = _poller(make_config(tmp_path), store)
    poller.poll(feed, NOW)
    srv.route("/f.xml", Response(b"", 304))
    out = poller.poll(store.feeds.get(feed.id), NOW + timedelta(hours=3))
    after = store.feeds.get(feed.id)
    assert out.http_status == 304 and after.etag == '"x"' and after.min_interval == 7200
    assert srv.hits_for("/f.xml")[-1].headers.get("If-None-Match") == '"x"'


def test_max_entries_per_poll(srv: TestServer, tmp_path: Path, store: Store) -> None:
    items = [(f"g{i}", f"Story {i}", f"<p>Story {i} text.</p>") for i in range(300)]
    url = srv.route("/f.xml", Response(rss(items)))
    feed = _feed(store, url)
    out = _poller(make_config(tmp_path, "max_entries = 40\n"), store).poll(feed, NOW)
    assert out.new_entries == 40 and store.count("entries") == 40


@pytest.mark.parametrize("response,expect", [
    (Response(b"<html><body>Hello</body></html>", headers={"Content-Type": "text/html"}), "not a feed"),
    (Response(b"", 500), "HTTP 500"),
    (Response(b"", 404), "HTTP 404"),
    (Response(b"", 302, {"Location": "file:///etc/passwd"}), "refusing non-http(s) URL"),
])
def test_errors_recorded_on_feed(srv: TestServer, tmp_path: Path, store: Store, response: Response,
                                 expect: str) -> None:
    url = srv.route("/f.xml", response)
    feed = _feed(store, url)
    out = _poller(make_config(tmp_path), store).poll(feed, NOW)
    after = store.feeds.get(feed.id)
    assert after.status == "error" and after.last_error and expect in after.last_error
    assert "\n" not in after.last_error and out.error == after.last_error
    row = store.query("SELECT error FROM polls WHERE feed_id = ?", [feed.id])
    assert row and row[0]["error"] == after.last_error


def test_gone_stops_polling(srv: TestServer, tmp_path: Path, store: Store) -> None:
    url = srv.route("/f.xml", Response(b"", 410))
    feed = _feed(store, url)
    _poller(make_config(tmp_path), store).poll(feed, NOW)
    after = store.feeds.get(feed.id)
    assert after.status == "gone" and after.next_poll is None


def test_host_limiter_shared_between_feeds_of_a_host(srv: TestServer, tmp_path: Path, store: Store) -> None:
    import threading

    for i in range(6):
        srv.route(f"/f{i}.xml", Response(rss([(f"{i}-{j}", f"S{i}{j}", f"<p>t {i} {j}</p>") for j in range(2)])))
    config = make_config(tmp_path)
    poller = _poller(config, store)
    poller.fetcher.limiter = HostLimiter(1, 0.2)
    feeds = [_feed(store, srv.url(f"/f{i}.xml"), f"f{i}") for i in range(6)]
    threads = [threading.Thread(target=poller.poll, args=(f, NOW)) for f in feeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    starts = sorted(h.start for h in srv.hits)
    assert len(starts) == 6 and srv.max_active == 1
    assert min(b - a for a, b in zip(starts, starts[1:], strict=False)) >= 0.19


def test_large_poll_prepared_in_worker_processes_stores_the_same(srv: TestServer, tmp_path: Path) -> None:
    """Feeds parsed and texts fingerprinted in worker processes are those made in the polling thread."""
    items = [(f"g{i}", f"Story {i}", f"<p>Body of story number {i}, told at some length for the test.</p>" * 40
              + f"<p>The post <a href='x'>Story {i}</a> appeared first on Ledger.</p>") for i in range(12)]
    body = rss(items)
    assert len(body) >= POOL_BYTES  # parsed in a worker process too
    url = srv.route("/big.xml", Response(body))
    stored = []
    for processes in (0, 2):
        with Store(tmp_path / f"p{processes}.db") as store:
            poller = _poller(make_config(tmp_path, f"[scheduler]\nprocesses = {processes}\n"), store)
            try:
                out = poller.poll(_feed(store, url), NOW)
                assert (out.error, out.new_entries) == (None, 12)
                assert (poller._pool is not None) == (processes == 2)
            finally:
                poller.close()
            stored.append(store.query("SELECT e.guid, e.text, e.boilerplate, p.shingles, p.tokens FROM entries e"
                                      " JOIN fingerprints p ON p.entry_id = e.id ORDER BY e.guid"))
    assert stored[0] == stored[1] and len(stored[0]) == 12
    assert "appeared first" not in stored[1][0]["text"]


def test_only_entries_new_or_changed_since_the_store_saw_them_are_prepared(srv: TestServer, tmp_path: Path) -> None:
    """The store's content hashes, read in one query (by the worker process through a read-only
    connection of its own), spare the text and fingerprint work of unchanged entries; a store the
    worker cannot read costs only that work."""
    items = [(f"g{i}", f"Story {i}", f"<p>Body of story number {i}, told at some length for the test.</p>" * 12)
             for i in range(12)]
    url = srv.route("/big.xml", Response(rss(items)))
    with Store(tmp_path / "w.db") as store:
        poller = _poller(make_config(tmp_path, "[scheduler]\nprocesses = 2\n"), store)
        try:
            feed = _feed(store, url)
            assert poller.poll(feed, NOW).new_entries == 12
            items[3] = ("g3", "Story 3", "<p>Story three, rewritten.</p>" * 12)
            body = rss(items + [("g12", "Story 12", "<p>A new story.</p>" * 12)])
            assert len(body) >= POOL_BYTES
            srv.route("/big.xml", Response(body))
            out = poller.poll(store.feeds.get(feed.id), NOW + timedelta(hours=1))
            assert (out.error, out.new_entries, out.updated_entries) == (None, 1, 1)
            assert poller._pool is not None
        finally:
            poller.close()
        guids = [f"g{i}" for i in range(13)]
        in_worker = stored_content_hashes(str(tmp_path / "w.db"), feed.id, guids)
        assert in_worker == store.entries.content_hashes(feed.id, guids) and len(in_worker) == 13
        work = work_on(body, url, {}, NOW, 100, lambda g: stored_content_hashes(str(tmp_path / "w.db"), feed.id, g),
                       NO_PAGE)
        assert ([p.entry.guid for p in work.items], work.unchanged, work.entries) == ([], 13, 13)
        items[5] = ("g5", "Story 5", "<p>Story five, corrected.</p>")
        work = work_on(rss(items), url, {}, NOW, 100, lambda g: store.entries.content_hashes(feed.id, g), NO_PAGE)
        assert ([p.entry.guid for p in work.items], work.unchanged) == (["g5"], 11)
    assert stored_content_hashes(str(tmp_path / "absent.db"), 1, guids) == {}
    assert len(work_on(body, url, {}, NOW, 100, lambda g: {}, NO_PAGE).items) == 13


def NO_PAGE(url: str, words: int) -> bool:  # noqa: N802 - a constant policy
    return False


def test_each_text_is_cleaned_once_and_fingerprinted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The article page is decided on the feed text once cleaned: an entry whose page is wanted
    comes back as a draft (cleaned, not fingerprinted); preparing it on the page's text cleans that
    text alone and fingerprints once; an entry whose page is not wanted is prepared at once."""
    from relaywatch.detect import fingerprint as fpmod
    from relaywatch.detect import prepare as prepmod
    from relaywatch.detect import text as textmod

    calls: list[str] = []
    real_clean, real_fp = textmod.clean, fpmod.fingerprint
    monkeypatch.setattr(textmod, "clean", lambda markup, *a: calls.append("clean") or real_clean(markup, *a))
    monkeypatch.setattr(fpmod, "fingerprint", lambda text, *a, **k: calls.append("fp") or real_fp(text, *a, **k))
    body = rss([("short", "Short", "<p>A summary of twelve words, too short to be the whole story.</p>"),
                ("long", "Long", "<p>" + "A long story told in full within the feed itself. " * 12 + "</p>")])
    work = work_on(body, "http://127.0.0.1/f.xml", {}, NOW, 100, lambda g: {}, lambda url, words: words < 30)
    assert [type(i).__name__ for i in work.items] == ["Draft", "Prepared"]
    assert calls == ["clean", "clean", "fp"]
    calls.clear()
    page = "\n\n".join(["The whole story, as the article page gives it, is much longer than the summary."] * 5)
    done = prepmod.prepare(work.items[0], page)
    assert calls == ["clean", "fp"] and done.article_text == page and done.feed_text is not None


def test_same_body_is_not_parsed_again(srv: TestServer, tmp_path: Path, store: Store,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that sends no ETag or Last-Modified: the body's hash, kept on the feed across restarts,
    spares parsing the same document again; a changed body is parsed."""
    url = srv.route("/f.xml", Response(rss(ITEMS)))
    feed = _feed(store, url)
    assert _poller(make_config(tmp_path), store).poll(feed, NOW).new_entries == 3

    def no_parsing(*args: object) -> None:
        raise AssertionError("parsed again")

    with monkeypatch.context() as m:
        m.setattr("relaywatch.poll.poller.parse_feed", no_parsing)
        out = _poller(make_config(tmp_path), store).poll(store.feeds.get(feed.id), NOW + timedelta(hours=1))
    assert out.error is None and out.http_status == 200 and out.new_entries == 0
    assert out.notes == ["same body as last time: not parsed again"]
    assert store.feeds.get(feed.id).last_poll == NOW + timedelta(hours=1)
    srv.route("/f.xml", Response(rss(ITEMS + [("g9", "Story 9", "<p>A new story arrives.</p>")])))
    out = _poller(make_config(tmp_path), store).poll(store.feeds.get(feed.id), NOW + timedelta(hours=2))
    assert (out.error, out.new_entries) == (None, 1) and store.count("entries") == 4


def test_dead_worker_process_fails_one_poll_and_the_pool_is_made_anew(tmp_path: Path, store: Store) -> None:
    poller = _poller(make_config(tmp_path), store)
    try:
        with pytest.raises(PollError, match="worker process died"):
            poller._in_pool(os._exit, [3])
        assert poller._pool is None
        assert poller._in_pool(abs, [-2, 5]) == [2, 5]
    finally:
        poller.close()
