"""The daemon's real code against feeds served over HTTP on 127.0.0.1, end to end."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from pathlib import Path

from pytest_httpserver import HTTPServer
from relaywatch.config import Config
from relaywatch.demo import demo_dir, serve
from relaywatch.poll.scheduler import poll_once
from relaywatch.report.tables import reposts
from relaywatch.store import Store, utcnow
from werkzeug import Request, Response

from .conftest import make_config

DEMO_FEEDS = """
[[feeds]]
name = "meridian"
url = "{base}/wire.xml"
role = "wire"
credit = ["Meridian Wire"]

[[feeds]]
name = "daily-ledger"
url = "{base}/ledger.xml"

[[feeds]]
name = "echo-relay"
url = "{base}/echo.rdf"
role = "relay"

[[feeds]]
name = "coastal-courier"
url = "{base}/courier.xml"
"""

EXPECTED = {  # copy title -> (copy feed, kind, credited, via feed)
    "Port Alder Harbour Authority Halts Kestrel Point Expansion After Court Ruling":
        ("daily-ledger", "verbatim", False, None),
    "Tidewater Rail Strike Cancels Most Halverton Trains": ("daily-ledger", "excerpt", True, None),
    "Port Alder Harbour Authority Halts Kestrel Point Expansion After Court Ruling - from Daily Ledger":
        ("echo-relay", "verbatim", False, "daily-ledger"),
    "Stolen Gannet Rock lighthouse lens turns up in a storage unit after eight years":
        ("echo-relay", "edited", False, None),
}


def demo_config(tmp_path: Path, base: str) -> Config:
    return make_config(tmp_path, DEMO_FEEDS.format(base=base))


def check_demo_links(store: Store) -> None:
    rows = reposts(store)
    got = {r["copy_title"]: (r["copy_feed"], r["kind"], r["credited"], r["via_feed"]) for r in rows}
    assert got == EXPECTED
    assert {r["original_feed"] for r in rows} == {"meridian"}
    assert all(r["lag_seconds"] > 0 and r["anomaly"] is None for r in rows)


def test_rss_atom_and_rdf_feeds_end_to_end(tmp_path: Path) -> None:
    with serve(demo_dir()) as base:
        config = demo_config(tmp_path, base)
        with Store(config.database.path) as store:
            results = poll_once(config, store)
            assert {f.name: (o.http_status, o.new_entries, o.error) for f, o in results} == {
                "coastal-courier": (200, 2, None), "daily-ledger": (200, 3, None),
                "echo-relay": (200, 2, None), "meridian": (200, 3, None)}
            check_demo_links(store)
            boiler = store.query("SELECT e.boilerplate FROM entries e JOIN feeds f ON f.id = e.feed_id "
                                 "WHERE f.name = 'echo-relay' AND e.title LIKE '%from Daily Ledger'")
            assert all(p in boiler[0]["boilerplate"] for p in
                       ("wordpress-appeared-first", "ifttt-from", "blogspot-no-comments"))
            feeds = {f.name: f for f in store.feeds.list()}
            assert feeds["echo-relay"].title == "Echo Relay Blog"
            assert all(f.status == "ok" and f.last_modified for f in feeds.values())
            # the run leaves every entry in the full-text index (search_entries itself does not catch up)
            assert store.query("SELECT count(*) AS n FROM entries_fts_docsize")[0]["n"] == store.count("entries") == 10


def test_restart_repolls_the_same_feeds_without_duplicates(tmp_path: Path) -> None:
    with serve(demo_dir()) as base:
        config = demo_config(tmp_path, base)
        with Store(config.database.path) as store:
            poll_once(config, store)
        for _ in range(2):  # a restart: a new process would open the database afresh
            with Store(config.database.path) as store:
                results = poll_once(config, store)
                # http.server honours If-Modified-Since: the second poll is a 304
                assert {o.http_status for _, o in results} == {304}
                assert store.count("entries") == 10 and store.count("reposts") == 4
                check_demo_links(store)
        with Store(config.database.path) as store:  # the same documents again, in full
            store.conn.execute("UPDATE feeds SET etag = NULL, last_modified = NULL")
            results = poll_once(config, store)
            assert {o.http_status for _, o in results} == {200}
            assert sum(o.new_entries for _, o in results) == 0
            assert store.count("entries") == 10 and store.count("reposts") == 4
            assert store.count("polls") == 16


def _feed(title: str, guid: str) -> str:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>http://x/</link>'
            f"<item><title>{title}</title><guid>{guid}</guid><link>https://x.example/{guid}</link>"
            "<description>Some words of a story that is long enough to be a story here.</description>"
            "</item></channel></rss>")


def test_conditional_get_with_etag_gives_304(tmp_path: Path, httpserver: HTTPServer) -> None:
    seen: list[str | None] = []

    def handler(request: Request) -> Response:
        seen.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(_feed("one", "g1"), content_type="application/rss+xml", headers={"ETag": '"v1"'})

    httpserver.expect_request("/feed").respond_with_handler(handler)
    config = make_config(tmp_path, f'[[feeds]]\nname = "f"\nurl = "{httpserver.url_for("/feed")}"\n')
    with Store(config.database.path) as store:
        first = poll_once(config, store)[0][1]
        second = poll_once(config, store)[0][1]
        assert (first.http_status, first.new_entries) == (200, 1)
        assert (second.http_status, second.new_entries, second.error) == (304, 0, None)
        assert seen == [None, '"v1"']
        assert store.feeds.by_name("f").etag == '"v1"'  # type: ignore[union-attr]


def test_permanent_redirect_is_remembered(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_response(
        Response(status=301, headers={"Location": httpserver.url_for("/new")}))
    httpserver.expect_request("/new").respond_with_data(_feed("moved", "m1"), content_type="application/rss+xml")
    config = make_config(tmp_path, f'[[feeds]]\nname = "f"\nurl = "{httpserver.url_for("/old")}"\n')
    with Store(config.database.path) as store:
        (_, outcome), = poll_once(config, store)
        assert (outcome.http_status, outcome.new_entries) == (200, 1)
        assert store.feeds.by_name("f").url == httpserver.url_for("/new")  # type: ignore[union-attr]


def test_config_url_change_wins_over_an_old_redirect(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/b").respond_with_data(_feed("b", "b1"), content_type="application/rss+xml")
    config = make_config(tmp_path, f'[[feeds]]\nname = "f"\nurl = "{httpserver.url_for("/b")}"\n')
    with Store(config.database.path) as store:
        poll_once(config, store)
        assert store.feeds.by_name("f").url == httpserver.url_for("/b")  # type: ignore[union-attr]


def test_gone_feed_stops_being_polled(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data("gone", status=410)
    httpserver.expect_request("/ok").respond_with_data(_feed("ok", "k1"), content_type="application/rss+xml")
    config = make_config(tmp_path, f'[[feeds]]\nname = "gone"\nurl = "{httpserver.url_for("/gone")}"\n'
                                   f'[[feeds]]\nname = "ok"\nurl = "{httpserver.url_for("/ok")}"\n')
    with Store(config.database.path) as store:
        poll_once(config, store)
        gone = store.feeds.by_name("gone")
        assert gone is not None and gone.status == "gone" and gone.next_poll is None
        assert gone.last_error == "HTTP 410 Gone: the publisher removed this feed; polling stopped"
        again = poll_once(config, store)
        assert [f.name for f, _ in again] == ["ok"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dead_host_and_malformed_feed_are_recorded_and_the_rest_goes_on(tmp_path: Path,
                                                                        httpserver: HTTPServer) -> None:
    httpserver.expect_request("/garbage").respond_with_data("<html><body>Not a feed at all", content_type="text/html")
    httpserver.expect_request("/bozo").respond_with_data(
        _feed("kept & broken", "b1").replace("</channel></rss>", ""), content_type="application/rss+xml")
    httpserver.expect_request("/ok").respond_with_data(_feed("fine", "f1"), content_type="application/rss+xml")
    dead = f"http://127.0.0.1:{_closed_port()}/feed.xml"
    config = make_config(tmp_path, f'[[feeds]]\nname = "dead"\nurl = "{dead}"\n'
                                   f'[[feeds]]\nname = "garbage"\nurl = "{httpserver.url_for("/garbage")}"\n'
                                   f'[[feeds]]\nname = "bozo"\nurl = "{httpserver.url_for("/bozo")}"\n'
                                   f'[[feeds]]\nname = "ok"\nurl = "{httpserver.url_for("/ok")}"\n')
    with Store(config.database.path) as store:
        before = utcnow()
        results = {f.name: o for f, o in poll_once(config, store)}
        assert results["ok"].new_entries == 1 and results["ok"].error is None
        assert results["bozo"].new_entries == 1 and results["bozo"].error.startswith("malformed feed")
        feeds = {f.name: f for f in store.feeds.list()}
        for name in ("dead", "garbage"):
            f = feeds[name]
            assert f.status == "error" and f.failures == 1, name
            assert f.last_error and "\n" not in f.last_error
            assert f.next_poll is not None and f.next_poll >= before + timedelta(seconds=40)
        assert feeds["dead"].last_error.startswith("cannot connect to 127.0.0.1:")  # type: ignore[union-attr]
        assert feeds["garbage"].last_error.startswith("not a feed")  # type: ignore[union-attr]
        poll_once(config, store, names=["dead"])
        assert store.feeds.by_name("dead").failures == 2  # type: ignore[union-attr]
        errors = store.query("SELECT count(*) AS n FROM polls WHERE error IS NOT NULL")[0]["n"]
        assert errors == 4


def test_published_dates_are_utc_and_absurd_ones_flagged(tmp_path: Path, httpserver: HTTPServer) -> None:
    future = (datetime.now().astimezone() + timedelta(days=30)).strftime("%a, %d %b %Y %H:%M:%S %z")
    items = [("g1", "Tue, 24 Nov 2026 10:05:00 -0500"), ("g2", future), ("g3", "Thu, 01 Jan 1970 00:00:00 +0000"),
             ("g4", "yesterday-ish"), ("g5", None)]
    body = '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>' + "".join(
        f"<item><title>{g}</title><guid>{g}</guid>" + (f"<pubDate>{d}</pubDate>" if d else "") +
        f"<description>Story {g} text of some words.</description></item>" for g, d in items) + "</channel></rss>"
    httpserver.expect_request("/d").respond_with_data(body, content_type="application/rss+xml")
    config = make_config(tmp_path, f'[[feeds]]\nname = "d"\nurl = "{httpserver.url_for("/d")}"\n')
    with Store(config.database.path) as store:
        poll_once(config, store)
        rows = {r["guid"]: r for r in store.query("SELECT guid, published, published_raw, date_flag FROM entries")}
    assert rows["g1"]["published"] == "2026-11-24T15:05:00Z" and rows["g1"]["date_flag"] is None
    assert (rows["g2"]["published"], rows["g2"]["date_flag"], rows["g2"]["published_raw"]) == (None, "future", future)
    assert (rows["g3"]["published"], rows["g3"]["date_flag"]) == (None, "ancient")
    assert (rows["g4"]["published"], rows["g4"]["date_flag"]) == (None, "unparsed")
    assert (rows["g5"]["published"], rows["g5"]["date_flag"]) == (None, "missing")


def test_entry_identity_without_guid_uses_link_then_content(tmp_path: Path, httpserver: HTTPServer) -> None:
    body = ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            "<item><title>A</title><link>https://x.example/a</link><description>Alpha text.</description></item>"
            "<item><title>B</title><description>Beta text only.</description></item></channel></rss>")
    httpserver.expect_request("/n").respond_with_data(body, content_type="application/rss+xml")
    config = make_config(tmp_path, f'[[feeds]]\nname = "n"\nurl = "{httpserver.url_for("/n")}"\n')
    with Store(config.database.path) as store:
        poll_once(config, store)
        guids = sorted(r["guid"] for r in store.query("SELECT guid FROM entries"))
    assert len(guids) == 2 and guids[0] == "https://x.example/a" and guids[1].startswith("sha1:")
