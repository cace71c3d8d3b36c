"""Questions to the log: stories, story, outlets, search, status, the SVG timeline, Datasette queries."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import relaywatch.store.core as store_core
import yaml
from relaywatch import cli
from relaywatch.config import parse_config
from relaywatch.poll.archive import ingest_file
from relaywatch.report.lookup import feed_status, search
from relaywatch.report.questions import (
    ReportError,
    outlets,
    percentile,
    stories,
    story,
)
from relaywatch.report.svg import story_svg, timeline_strip_html
from relaywatch.report.tables import reposts
from relaywatch.store import Store
from relaywatch.store.schema import MIGRATIONS, _statements

from . import report_data
from .test_search import _world

SVG = "{http://www.w3.org/2000/svg}"
LONDON = ZoneInfo("Europe/London")


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = report_data.populate(tmp_path / "rw.db")
    yield s
    s.close()


def _ids(store: Store) -> dict[str, int]:
    """guid -> entry id."""
    return {r["guid"]: r["id"] for r in store.query("SELECT id, guid FROM entries")}


def _config_file(tmp_path: Path, db: Path, extra: str = "") -> Path:
    path = tmp_path / "rw.toml"
    path.write_text(f'[database]\npath = "{db}"\n[digest]\ntimezone = "Europe/London"\n{extra}', encoding="utf-8")
    return path


def test_sample_data_is_linked_by_the_real_matcher(store: Store) -> None:
    links = {(r["copy_feed"], r["copy_title"]): r for r in reposts(store)}
    assert len(links) == 5
    assert links[("echo-relay", "Tidal barrier approved")]["via_feed"] == "the-ledger"
    assert links[("the-ledger", "Tidal barrier approved")]["credited"] is True
    assert links[("courier", "Port Ellery gets its barrier")]["credited"] is False
    assert links[("courier", "A bumper year for pears")]["credited"] is True


def test_stories_most_copied_first_with_filters(store: Store) -> None:
    items = stories(store)
    assert [(s.title[:20], s.copies, s.credited, s.outlets) for s in items] == [
        ("Harbour board approv", 3, 1, 3), ("Saint-Émilion orchar", 1, 1, 1), ("Observatory voluntee", 1, 1, 1)]
    assert items[0].first_lag_seconds == 3 * 3600 + 12 * 60
    assert [s.copies for s in stories(store, min_copies=2)] == [3]
    since = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert [s.title[:10] for s in stories(store, since=since)] == ["Saint-Émil"]
    # --feed: stories from that feed or copied by it
    assert {s.title[:10] for s in stories(store, feed="echo-relay")} == {"Harbour bo"}
    assert {s.title[:10] for s in stories(store, feed="the-ledger")} == {"Harbour bo", "Observator"}
    assert len(stories(store, feed="meridian-wire")) == 3
    assert stories(store, feed="nobody") == []


def test_story_timeline_in_order_with_chain(store: Store) -> None:
    ids = _ids(store)
    s = story(store, ids["mw-harbour"])
    assert s.id == ids["mw-harbour"] and s.feed == "meridian-wire"
    assert [(c.feed, c.lag) for c in s.copies] == [("the-ledger", "+3h 12m"), ("courier", "+5h 47m"),
                                                   ("echo-relay", "+8h 05m")]
    echo = s.copies[2]
    assert echo.via_id == ids["ld-harbour"]
    assert echo.chain == ("meridian-wire", "the-ledger", "echo-relay")
    assert s.copies[0].chain == ()
    # the id of a copy finds its story
    assert story(store, ids["ec-harbour"]).id == ids["mw-harbour"]
    # an original without copies is a story of its own, without copies
    assert story(store, ids["co-library"]).copies == ()
    with pytest.raises(ReportError):
        story(store, 999_999)


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([0.0, 10.0], 90) == pytest.approx(9.0)


def test_outlets_lag_credit_and_sources(store: Store) -> None:
    by = {o.feed: o for o in outlets(store)}
    assert set(by) == {"the-ledger", "courier", "echo-relay"}
    ledger = by["the-ledger"]
    lags = [3 * 3600 + 12 * 60, 5 * 3600 + 30 * 60]
    assert ledger.copies == 2 and ledger.share_credited == 1.0
    assert ledger.median_lag_seconds == pytest.approx(sum(lags) / 2)
    assert ledger.p90_lag_seconds == pytest.approx(lags[0] + 0.9 * (lags[1] - lags[0]))
    assert ledger.top_sources == (("meridian-wire", 2),)
    assert by["courier"].share_credited == 0.5
    assert by["echo-relay"].share_credited == 0.0
    # a window keeps only the copies that appeared in it
    day = outlets(store, datetime(2026, 11, 27, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC))
    assert {o.feed: o.copies for o in day} == {"courier": 2, "the-ledger": 1, "echo-relay": 1}


def test_search_finds_words_and_is_safe(store: Store) -> None:
    ids = _ids(store)
    hits = search(store, "comet fragment")
    assert {h.id for h in hits} == {ids["mw-comet"], ids["ld-comet"]}
    orig = next(h for h in hits if h.id == ids["mw-comet"])
    assert orig.copies == 1 and orig.original_id is None
    copy = next(h for h in hits if h.id == ids["ld-comet"])
    assert copy.original_id == ids["mw-comet"]
    assert "[comet]" in copy.snippet.lower()
    assert search(store, "Émilion")[0].feed in ("meridian-wire", "courier")
    # user text is quoted: FTS syntax characters are words, not errors
    assert search(store, 'tidal AND ( "barrier') is not None
    assert search(store, "zebra crossing") == []
    with pytest.raises(ReportError):
        search(store, 'tidal AND (', fts=True)
    with pytest.raises(ReportError):
        search(store, "   ")
    assert {h.id for h in search(store, "NEAR(tidal barrier, 5)", fts=True)} >= {ids["mw-harbour"]}


def test_search_index_follows_inserts_and_updates(store: Store, tmp_path: Path) -> None:
    more = [{"feed": "courier", "guid": "co-bridge", "url": "https://courier.example/bridge",
             "title": "Footbridge reopens", "published": "2026-11-27T16:00:00Z",
             "text": "The wooden footbridge over the millrace reopened after painting by volunteers."}]
    ingest_file(store, report_data.write_jsonl(tmp_path / "more.jsonl", more))
    assert [h.title for h in search(store, "millrace")] == ["Footbridge reopens"]
    edited = [dict(more[0], text="The wooden footbridge over the weir reopened after painting by volunteers.")]
    ingest_file(store, report_data.write_jsonl(tmp_path / "edit.jsonl", edited))
    assert search(store, "millrace") == []
    assert [h.title for h in search(store, "weir")] == ["Footbridge reopens"]


def test_migrations_bring_a_version_1_database_forward(tmp_path: Path) -> None:
    """A database left by the first release gains the digests table, the full-text index (over the
    rows already stored), the feeds' body hashes and the pending-fingerprint state, and keeps every row."""
    db = tmp_path / "old.db"
    old = report_data.populate(db)
    world = _world(old, tmp_path)
    old.index.flush()  # version 1 wrote every fingerprint straight into the index
    old.close()
    conn = sqlite3.connect(db)  # make it what version 1 left behind
    conn.executescript("DROP TRIGGER entries_ad; DROP TRIGGER entries_au;"
                       " DROP TRIGGER entries_trigram_ad; DROP TRIGGER entries_trigram_au;"
                       " DROP TABLE entries_trigram; DROP VIEW entries_unspaced; DROP INDEX entries_unspaced_ids;"
                       " ALTER TABLE entries DROP COLUMN unspaced;"
                       " DROP TABLE entries_fts; DROP TABLE digests; ALTER TABLE feeds DROP COLUMN body_hash;"
                       " DROP TABLE fingerprint_pending; DROP TABLE index_state;"
                       " DROP INDEX reposts_labels; DROP VIEW repost_report;"
                       " DROP TABLE boilerplate_window; DROP TABLE boilerplate;"
                       + "".join(f" ALTER TABLE reposts DROP COLUMN {c};"
                                 for c in ("added_before", "added_inside", "added_after", "credit_link", "labels",
                                           "copy_sentences", "taken_sentences"))
                       + " DELETE FROM schema_migrations WHERE version > 1;")
    conn.execute(next(s for s in _statements(MIGRATIONS[0].sql) if s.startswith("CREATE VIEW repost_report")))
    entries = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
    indexed = conn.execute("SELECT count(*) FROM fingerprint_index").fetchone()[0]
    conn.close()
    new = Store(db)
    assert new.schema_version() == store_core.SCHEMA_VERSION >= 5
    assert new.count("entries") == entries > 0
    assert new.count("fingerprint_index") == indexed > 0
    assert {h.title for h in search(new, "eider ducks")} >= {"Harbour board approves tidal barrier for Port Ellery"}
    assert search(new, "ider duc") == []  # Latin script: words, not substrings
    # migration 8: the entries in scripts written without spaces (not the Arabic one) join the trigram index
    assert new.query("SELECT count(*) AS n FROM entries_trigram_docsize")[0]["n"] == 4
    assert [h.id for h in search(new, "核电站")] == [world["zh-1"]]
    assert all(f.body_hash is None for f in new.feeds.list())
    assert new.count("fingerprint_pending") == 0
    labels = new.query("SELECT kind, added_words, labels FROM repost_report")
    assert labels and all(r["added_words"] == 0 and r["labels"] == 1 for r in labels)  # old labels, to re-decide
    assert all(r["taken_sentences"] is None for r in new.query("SELECT taken_sentences FROM repost_report"))
    new.close()


def test_feed_status_names_failing_and_silent_feeds(store: Store) -> None:
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    feeds = {f.name: f for f in store.feeds.list()}
    # make two of them polled feeds: one failing, one polled fine but silent for a week
    with store.transaction():
        store.conn.execute("UPDATE feeds SET source = 'config' WHERE name IN ('courier', 'the-ledger')")
        store.conn.execute("UPDATE entries SET first_seen = '2026-11-27T12:00:00Z'")
    store.feeds.save_state(replace(feeds["courier"], source="config", status="error", failures=3,
                                  last_error="HTTP 503", last_status=503, last_poll=now - timedelta(minutes=5),
                                  next_poll=now + timedelta(minutes=40)))
    store.feeds.save_state(replace(feeds["the-ledger"], source="config", status="ok", last_status=200,
                                  last_poll=now - timedelta(minutes=10), next_poll=now + timedelta(minutes=20)))
    health = {h.name: h for h in feed_status(store, now)}
    assert set(health) == {"courier", "the-ledger"}  # ingest-only feeds are left out
    assert health["courier"].problem == "failing: 3 failed polls, last: HTTP 503"
    assert health["courier"].http_status == 503
    assert health["the-ledger"].problem == "silent for 8d 0h"
    assert health["the-ledger"].entries == 2
    # fresh entries: healthy again
    assert {h.name: h.problem for h in feed_status(store, datetime(2026, 11, 28, tzinfo=UTC))}["the-ledger"] is None
    assert len(feed_status(store, now, include_ingest=True)) == 4


def test_cli_stories_exact_output(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _ids(store)
    config = _config_file(tmp_path, Path(store.path))
    assert cli.main(["-c", str(config), "stories"]) == 0
    h, o, c = ids["mw-harbour"], ids["mw-orchard"], ids["mw-comet"]
    assert capsys.readouterr().out == (
        "id  published         feed           copies  credited  first copy  title\n"
        "--  ----------------  -------------  ------  --------  ----------  "
        "------------------------------------------------------------\n"
        f"{h}   2026-11-27 06:00  meridian-wire  3       1/3       +3h 12m     "
        "Harbour board approves tidal barrier for Port Ellery\n"
        f"{o}   2026-11-27 08:30  meridian-wire  1       1/1       +4h 30m     "
        "Saint-Émilion orchards expect record pear harvest — despite…\n"
        f"{c}   2026-11-26 10:00  meridian-wire  1       1/1       +5h 30m     "
        "Observatory volunteers catalogue comet fragment\n")
    assert cli.main(["-c", str(config), "stories", "--min-copies", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(d["id"], d["copies"], d["first_lag"], d["published"]) for d in data] == [
        (h, 3, "+3h 12m", "2026-11-27T06:00:00Z")]


def test_cli_story_outlets_search_status(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _ids(store)
    config = str(_config_file(tmp_path, Path(store.path)))
    svg_path = tmp_path / "story.svg"
    assert cli.main(["-c", config, "story", str(ids["mw-harbour"]), "--svg", str(svg_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Harbour board approves tidal barrier for Port Ellery\n"
                          "meridian-wire, 2026-11-27 06:00 GMT, 3 copies (1 credited)\n")
    assert re.search(r"\+8h 05m\s+echo-relay\s+verbatim\s+\d+%\s+8/8 sentences, 100%\s+no\s+the-ledger\s+"
                     r"2026-11-27 14:05", out)
    assert svg_path.read_text(encoding="utf-8").startswith("<svg")
    assert cli.main(["-c", config, "story", str(ids["ec-harbour"]), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == ids["mw-harbour"]
    assert [c["chain"] for c in data["copies"]][2] == ["meridian-wire", "the-ledger", "echo-relay"]
    assert cli.main(["-c", config, "outlets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["outlet", "copies", "median", "lag", "p90", "lag", "credited", "top", "sources"]
    assert lines[2].split()[:2] == ["courier", "2"] and "meridian-wire (2)" in lines[2]
    assert cli.main(["-c", config, "search", "eider", "ducks", "--json"]) == 0
    assert {d["id"] for d in json.loads(capsys.readouterr().out)} == {
        ids["mw-harbour"], ids["ld-harbour"], ids["ec-harbour"]}
    assert cli.main(["-c", config, "search", "tidal AND (", "--fts"]) == 1
    assert "cannot search" in capsys.readouterr().err
    assert cli.main(["-c", config, "search", '"']) == 2
    assert capsys.readouterr() == ("", "relaywatch: search needs some words (letters or digits), not '\"'\n")
    assert cli.main(["-c", config, "search", '"eider', "ducks)", "--json"]) == 0  # FTS5 syntax searched as words
    assert {d["id"] for d in json.loads(capsys.readouterr().out)} == {
        ids["mw-harbour"], ids["ld-harbour"], ids["ec-harbour"]}
    assert cli.main(["-c", config, "status", "--all"]) == 0
    assert "meridian-wire" in capsys.readouterr().out
    assert cli.main(["-c", config, "story", "424242"]) == 1
    assert "no entry with id 424242" in capsys.readouterr().err


def test_svg_timeline_one_mark_per_copy(store: Store) -> None:
    s = story(store, _ids(store)["mw-harbour"])
    root = ET.fromstring(story_svg(s))
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") is not None and root.find(f"{SVG}title") is not None
    marks = [g for g in root.iter(f"{SVG}g") if "copy" in (g.get("class") or "").split()]
    assert len(marks) == len(s.copies) == 3
    assert [g.get("data-entry-id") for g in marks] == [str(c.copy_id) for c in s.copies]
    shapes = {g.get("class"): g[1].tag for g in marks}  # g[0] is the <title>
    assert shapes == {"mark copy verbatim": f"{SVG}circle", "mark copy excerpt": f"{SVG}polygon"}
    fills = [g[1].get("fill") for g in marks]
    assert fills[0] != "#ffffff" and fills[1] == "#ffffff" and fills[2] == "#ffffff"  # credited: filled
    assert len([e for e in root.iter(f"{SVG}line") if e.get("class") == "via"]) == 1
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter(f"{SVG}image"))
    # the later a copy, the further right
    xs = [float(g[1].get("cx") or g[1].get("points", "0,0").split(",")[0]) for g in marks]
    assert xs == sorted(xs)


def test_compact_timeline_is_valid_markup(store: Store) -> None:
    s = story(store, _ids(store)["mw-harbour"])
    strip = timeline_strip_html(s)
    root = ET.fromstring(f"<div>{strip}</div>")
    assert len(root.findall(".//td")) == 24 + 2
    assert len([sp for sp in root.iter("span") if sp.get("title") != "original"]) == 3
    assert "<svg" not in strip and "<img" not in strip
    assert timeline_strip_html(story(store, _ids(store)["co-library"])) == ""


def _canned() -> dict[str, Any]:
    text = (resources.files("relaywatch") / "datasette.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def test_datasette_canned_queries_run(store: Store) -> None:
    meta = _canned()
    db = meta["databases"]["relaywatch"]
    for table_name in ("feeds", "entries", "reposts", "polls", "repost_report", "digests"):
        assert db["tables"][table_name]["description"]
    ids = _ids(store)
    params = {"id": str(ids["mw-harbour"]), "since": "", "q": "tidal"}
    results = {}
    for name, q in db["queries"].items():
        needed = set(re.findall(r"(?<!:):(\w+)", q["sql"]))
        results[name] = store.query(q["sql"], {k: params[k] for k in needed})
    assert {"stories", "story_timeline", "outlets", "uncredited_copies", "feed_status"} <= set(results)
    assert [r["copies"] for r in results["stories"]] == [3, 1, 1]
    assert [r["copy_feed"] for r in results["story_timeline"]] == ["the-ledger", "courier", "echo-relay"]
    assert results["story_timeline"][2]["via_feed"] == "the-ledger"
    assert {r["copy_feed"] for r in results["uncredited_copies"]} == {"courier", "echo-relay"}
    assert {r["outlet"]: r["copies"] for r in results["outlets"]} == {"the-ledger": 2, "courier": 2,
                                                                      "echo-relay": 1}
    assert len(results["feed_status"]) == 4
    assert len(results["search_entries"]) == 4
    assert store.query(db["queries"]["stories"]["sql"], {"since": "2026-11-27T07:00:00Z"})[0]["copies"] == 1


def test_datasette_serves_the_canned_queries(store: Store, tmp_path: Path) -> None:
    datasette_app = pytest.importorskip("datasette.app")
    db = tmp_path / "relaywatch.db"
    store.conn.execute(f"VACUUM INTO '{db}'")
    ds = datasette_app.Datasette([str(db)], metadata=_canned())
    harbour = _ids(store)["mw-harbour"]

    async def fetch() -> list[Any]:
        out = []
        for path in ("/relaywatch/stories.json?_shape=array&since=",
                     f"/relaywatch/story_timeline.json?_shape=array&id={harbour}",
                     "/relaywatch/entries.json?_search=eider&_shape=array"):
            r = await ds.client.get(path)
            assert r.status_code == 200, (path, r.text[:300])
            out.append(r.json())
        return out

    stories_rows, timeline_rows, found = asyncio.run(fetch())
    assert [r["copies"] for r in stories_rows] == [3, 1, 1]
    assert len(timeline_rows) == 3
    assert len(found) == 3


def test_config_accepts_from_for_the_sender() -> None:
    c = parse_config('[digest]\nfrom = "Desk <desk@example.org>"\nto = "a@example.org"\n')
    assert c.digest.sender == "Desk <desk@example.org>" and c.digest.to == ("a@example.org",)
    with pytest.raises(Exception, match="same setting"):
        parse_config('[digest]\nfrom = "a@example.org"\nsender = "b@example.org"\n')
    with pytest.raises(Exception, match="digest.from"):
        parse_config("[digest]\nfrom = 3\n")


def test_tables_line_up_in_display_cells_whatever_the_script() -> None:
    from relaywatch.report.tables import cell_width, table

    rows = [{"feed": "xinhua", "title": "日本开始排放福岛核电站处理水", "n": 3},
            {"feed": "nhk", "title": "東京電力、処理水の海洋放出を開始した。政府は安全性を強調している", "n": 12},
            {"feed": "ledger", "title": "Port Alder halts expansion", "n": 1},
            {"feed": "e\x1b[31mvil", "title": "ｶﾀｶﾅ and é\u0301", "n": 0}]
    out = table(rows, [("feed", "feed"), ("title", "title"), ("n", "copies")], max_width=30)
    assert out == (
        "feed       title                          copies\n"
        "---------  -----------------------------  ------\n"
        "xinhua     日本开始排放福岛核电站处理水   3\n"
        "nhk        東京電力、処理水の海洋放出を…  12\n"
        "ledger     Port Alder halts expansion     1\n"
        "e\ufffd[31mvil  ｶﾀｶﾅ and é\u0301                     0")
    # the third column starts at the same cell on every line (a wide character counts 2, a combining mark 0)
    starts = {cell_width(line[:line.rindex("  ") + 2]) for line in out.splitlines()}
    assert starts == {42}
