"""The web view: ``relaywatch serve`` as a real subprocess on 127.0.0.1, read over HTTP and in a real
headless Chromium (Playwright); the story, front and outlet pages, cells, bad input."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from relaywatch import cli
from relaywatch.report.questions import stories, story
from relaywatch.store import MIGRATIONS, SCHEMA_VERSION, Store
from relaywatch.store.schema import _statements

from . import report_data
from .conftest import REPO

pytest.importorskip("datasette", reason="relaywatch serve needs the web extra: pip install -e '.[web]'")

SCRIPT = Path(sys.executable).parent / "relaywatch"
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MARKUP_TITLE = 'Barrier <script>alert("x")</script> & <b>co</b>'


@dataclass
class Served:
    url: str
    config: Path
    db: Path


def _config(tmp: Path, extra: str = "") -> Path:
    cfg = tmp / "relaywatch.toml"
    demo = (REPO / "config" / "example.toml").read_text(encoding="utf-8")
    cfg.write_text(demo.replace('[database]\npath = "relaywatch.db"',
                                '[database]\npath = "relaywatch.db"\nbusy_timeout = 0.5')
                   + '\n[digest]\ntimezone = "America/New_York"\n' + extra, encoding="utf-8")
    return cfg


@contextmanager
def serve(cfg: Path) -> Iterator[str]:
    """``relaywatch serve --port 0`` in a subprocess; yields its base URL, stops it after."""
    proc = subprocess.Popen([str(SCRIPT), "-c", str(cfg), "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"on (http://127\.0\.0\.1:\d+/) \(Ctrl-C stops\)$", line)
        assert found, (line, proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        yield found.group(1)
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        _, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (0, "")  # a quiet stop: no traceback, no request log


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The demo database (relaywatch demo), served."""
    tmp = tmp_path_factory.mktemp("web")
    cfg = _config(tmp)
    assert cli.main(["-q", "-c", str(cfg), "demo"]) == 0
    with serve(cfg) as url:
        yield Served(url, cfg, tmp / "relaywatch.db")


def _story(db: Path, entry_id: int) -> object:
    with Store(db) as s:
        return story(s, entry_id)


def test_front_page_lists_the_latest_days_stories_and_uncredited_outlets(demo: Served) -> None:
    status, page = get(demo.url)
    assert status == 200
    # the demo's last copy (echo-relay's lens story) appeared on 25 November, New York time
    assert "<h1>Most republished on Wednesday 25 November 2026</h1>" in page
    assert re.findall(r'class="story-link" href="/story/(\d+)">([^<]*)</a>', page) == [
        ("8", "Lighthouse lens stolen from Vellmouth museum found in storage unit")]
    assert '<a href="/?day=2026-11-24" rel="prev">' in page
    assert re.search(r'<tr><td><a href="/outlet/echo-relay">echo-relay</a></td><td>1</td><td>1</td>'
                     r"<td>100%</td><td>\+3h 45m</td></tr>", page)
    status, page = get(demo.url + "?day=2026-11-24")
    assert status == 200
    assert [int(i) for i in re.findall(r'class="story-link" href="/story/(\d+)"', page)] == [9]


def test_story_page_shows_every_copy_with_links_and_the_timeline(demo: Served) -> None:
    s = _story(demo.db, 9)
    status, page = get(demo.url + "story/9")
    assert status == 200
    rows = re.findall(r'<tr class="copy" data-entry-id="(\d+)"><td>([^<]*)</td><td><a href="/outlet/([^"]+)">', page)
    assert rows == [(str(c.copy_id), c.lag, c.feed) for c in s.copies]
    assert [lag for _, lag, _ in rows] == ["+3h 27m", "+3h 42m"]
    for c in s.copies:
        assert f'<a href="{c.url}" rel="noopener noreferrer">{c.title}</a>' in page
        assert f'<a href="/relaywatch/entries/{c.copy_id}" class="entry-row">' in page
    assert len(re.findall(r'<g class="mark copy ', page)) == len(s.copies) == 2
    assert "2026-11-24 11:05 EST" in page  # the wire published at 16:05 UTC, shown in New York time


def test_entry_row_links_and_outlet_page_resolve(demo: Served) -> None:
    status, page = get(demo.url + "relaywatch/entries/5")
    assert status == 200 and "Tidewater Rail Strike Cancels Most Halverton Trains" in page
    status, page = get(demo.url + "outlet/daily-ledger")
    assert status == 200
    assert "2 copies, median lag +3h 01m, 50% credited" in page
    assert re.search(r"<tr><td>2026-W48 \(from Mon 23 Nov\)</td><td>2</td><td>1</td><td>50%</td>"
                     r"<td>\+3h 01m</td></tr>", page)


def test_cells_show_links_lags_and_local_times(demo: Served) -> None:
    status, page = get(demo.url + "relaywatch/reposts")
    assert status == 200
    assert '<td class="col-lag_seconds type-float">+3h 42m</td>' in page
    status, page = get(demo.url + "relaywatch/stories")
    assert status == 200
    assert ('<a href="https://meridianwire.example.org/business/2026/11/23/tidewater-rail-strike-halverton/" '
            'rel="noopener noreferrer">') in page
    assert '<time datetime="2026-11-23T07:40:00Z">2026-11-23 02:40 EST</time>' in page


def test_missing_story_and_feed_are_404_pages(demo: Served) -> None:
    status, page = get(demo.url + "story/987654")
    assert status == 404 and "no entry with id 987654" in page and "Traceback" not in page
    status, page = get(demo.url + "outlet/no-such-feed")
    assert status == 404 and "no feed named &#39;no-such-feed&#39;" in page
    status, page = get(demo.url + "?day=yesterday")
    assert status == 400 and "day must be YYYY-MM-DD, not &#39;yesterday&#39;" in page


def test_markup_in_a_title_is_escaped_in_the_page_and_the_svg(tmp_path: Path) -> None:
    entries = [dict(e, title=MARKUP_TITLE) if e["guid"] == "mw-harbour" else e for e in report_data.ENTRIES]
    cfg = _config(tmp_path)
    report_data.populate(tmp_path / "relaywatch.db", report_data.write_jsonl(tmp_path / "e.jsonl", entries)).close()
    with Store(tmp_path / "relaywatch.db") as s:
        sid = next(x.id for x in stories(s) if x.title == MARKUP_TITLE)
    with serve(cfg) as url:
        status, page = get(f"{url}story/{sid}")
        _, front = get(url + "?day=2026-11-27")
    assert status == 200
    assert "<script>alert" not in page and "<b>co</b>" not in page and "<script>alert" not in front
    assert "Barrier &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;" in page
    assert "<title>Barrier &lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;</title>" in page


def _old_database(path: Path) -> None:
    """A database as the release before the latest migration left it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                 "applied_at TEXT NOT NULL)")
    for m in MIGRATIONS[:-1]:
        for statement in _statements(m.sql):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, '2026-01-01T00:00:00Z')", (m.version, m.name))
    conn.close()


def test_a_database_from_an_older_release_is_migrated_then_served(tmp_path: Path) -> None:
    _old_database(tmp_path / "relaywatch.db")
    with serve(_config(tmp_path)) as url:
        status, page = get(url)
    assert status == 200 and "No repost recorded yet" in page
    with sqlite3.connect(tmp_path / "relaywatch.db") as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == SCHEMA_VERSION


def test_an_unmigrated_database_behind_plain_datasette_is_a_clear_503(tmp_path: Path) -> None:
    import asyncio

    from datasette.app import Datasette
    from relaywatch.report.web.app import metadata

    _old_database(tmp_path / "old.db")
    config = cli.common.load_config(str(_config(tmp_path)))
    meta = metadata(config.model_copy(update={"database": config.database.model_copy(
        update={"path": str(tmp_path / "old.db")})}), "old")
    ds = Datasette([str(tmp_path / "old.db")], metadata=meta)
    response = asyncio.run(ds.client.get("/"))
    assert response.status_code == 503
    assert (f"has schema version {SCHEMA_VERSION - 1}, older than this relaywatch ({SCHEMA_VERSION}): "
            "run relaywatch serve (or any relaywatch command) to migrate it") in response.text


def test_pages_are_served_while_the_daemon_holds_a_write_transaction(demo: Served) -> None:
    writer = sqlite3.connect(demo.db, isolation_level=None, timeout=5)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE entries SET title = 'not committed' WHERE id = 9")
    try:
        status, page = get(demo.url + "story/9")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert status == 200 and "<title>Port Alder halts $1.4 billion terminal expansion" in page


def test_a_locked_database_is_a_503_page_not_a_traceback(tmp_path: Path) -> None:
    import asyncio

    from relaywatch.report.web.app import make_datasette

    cfg = _config(tmp_path)
    assert cli.main(["-q", "-c", str(cfg), "demo"]) == 0
    holder = sqlite3.connect(tmp_path / "relaywatch.db", isolation_level=None, timeout=5)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")  # WAL in exclusive mode: no other connection can read
    try:
        ds = make_datasette(cli.common.load_config(str(cfg)))
        response = asyncio.run(ds.client.get("/story/9"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503
    assert "The database cannot be read now" in response.text and "database is locked" in response.text
    assert "Traceback" not in response.text


def test_serve_refuses_an_address_in_use(tmp_path: Path) -> None:
    import socket

    cfg = _config(tmp_path)
    assert cli.main(["-q", "-c", str(cfg), "demo"]) == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([str(SCRIPT), "-c", str(cfg), "serve", "--port", str(port)], capture_output=True,
                              text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"relaywatch: cannot listen on 127.0.0.1:{port}: Address already in use\n"


# -- in a real browser ---------------------------------------------------------------------------

def test_in_chromium_front_page_to_story_marks_and_copy_links(demo: Served) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' installs playwright")
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM}: apt-get install chromium (.ci/run does)")
    ARTIFACTS.mkdir(exist_ok=True)
    visited: list[str] = []

    def outlet_site(route: object) -> None:  # the copies' sites (example.com/.org, reserved names)
        visited.append(route.request.url)  # type: ignore[attr-defined]
        route.fulfill(status=200, content_type="text/html", body="<h1>the copy</h1>")  # type: ignore[attr-defined]

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.route(re.compile(r"^https://[a-z]+\.example\.(com|org)/"), outlet_site)
            page.goto(demo.url + "?day=2026-11-24")
            page.click("a.story-link")
            page.wait_for_url(re.compile(r"/story/9$"))
            copies = page.locator("tr.copy")
            assert copies.count() == 2
            assert page.locator("svg g.mark.copy").count() == copies.count()
            assert page.locator("svg g.mark.original").count() == 1
            page.screenshot(path=str(ARTIFACTS / "story-page.png"), full_page=True)
            hrefs = [copies.nth(i).locator("td:nth-child(8) a").get_attribute("href") for i in range(2)]
            rows = [copies.nth(i).locator("a.entry-row").get_attribute("href") for i in range(2)]
            for href in hrefs:
                response = page.goto(str(href))
                assert response is not None and response.ok and page.url == href
            for row in rows:
                response = page.goto(demo.url.rstrip("/") + str(row))
                assert response is not None and response.status == 200
        finally:
            browser.close()
    assert visited == hrefs
    assert (ARTIFACTS / "story-page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_plugin_stays_out_of_other_datasettes(demo: Served) -> None:
    import asyncio

    from datasette.app import Datasette

    ds = Datasette([str(demo.db)])  # the plugin is installed (entry point) but not configured
    plugins = asyncio.run(ds.client.get("/-/plugins.json")).json()
    assert [(p["name"], p["templates"]) for p in plugins if p["name"] == "relaywatch"] == [("relaywatch", True)]
    front = asyncio.run(ds.client.get("/"))
    assert front.status_code == 200 and "Most republished" not in front.text
    assert asyncio.run(ds.client.get("/story/9")).status_code == 404
    table = asyncio.run(ds.client.get("/relaywatch/reposts"))
    assert "+3h 42m" not in table.text and '<td class="col-lag_seconds type-float">13320.0</td>' in table.text
