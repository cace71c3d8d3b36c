"""Full text for summary-only feeds: article pages fetched once, robots.txt obeyed, matched on."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from relaywatch.config import Config, FetchConfig, parse_config
from relaywatch.models import PollOutcome
from relaywatch.poll import articles
from relaywatch.poll.http import Fetcher
from relaywatch.poll.poller import Poller
from relaywatch.store import Store

from ._servers import Response, TestServer, rss

_RNG = random.Random(5)
VOCAB = ["".join(_RNG.choice("bcdfghklmnprstvz") + _RNG.choice("aeiou") for _ in range(_RNG.randint(2, 4)))
         for _ in range(3000)]


def sentences(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(VOCAB) for _ in range(18)).capitalize() + "." for _ in range(n)]


def article_page(seed: int) -> bytes:
    paras = "".join(f"<p>{' '.join(sentences(seed * 100 + k, 3))}</p>" for k in range(8))
    chrome = "".join(f'<li><a href="/c{k}">Section {k}</a></li>' for k in range(30))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Story {seed}</title></head><body>"
            f"<nav><ul>{chrome}</ul></nav><main><article><h1>Story {seed}</h1>{paras}</article></main>"
            f"<footer><p>Copyright the publisher. All rights reserved. Subscribe to our newsletter.</p>"
            f"</footer></body></html>").encode()


def summary(seed: int) -> str:
    return "<p>" + sentences(seed * 100, 1)[0] + "</p>"


def full_text(seed: int) -> str:
    return "".join(f"<p>{' '.join(sentences(seed * 100 + k, 3))}</p>" for k in range(8))


def config(tmp_path: Path, extra_defaults: str = "", extra: str = "") -> Config:
    """The article pages are served on 127.0.0.1: these tests opt in to private networks."""
    return parse_config(f'[database]\npath = "{tmp_path / "a.db"}"\n[defaults]\nsummary_words = 60\n'
                        f"{extra_defaults}[fetch]\nper_host_delay = 0\nallow_private_networks = true\n{extra}")


@pytest.fixture
def site() -> TestServer:
    with TestServer() as srv:
        srv.route("/robots.txt", Response(b"User-agent: *\nDisallow: /private/\n",
                                          headers={"Content-Type": "text/plain"}))
        for n in (1, 2):
            srv.route(f"/a/{n}.html", Response(article_page(n), headers={"Content-Type": "text/html"}))
        srv.route("/private/3.html", Response(article_page(3), headers={"Content-Type": "text/html"}))
        items = [(f"s{n}", f"Story {n}", summary(n)) for n in (1, 2, 3)]
        body = rss(items).decode()
        for n, path in ((1, "/a/1.html"), (2, "/a/2.html"), (3, "/private/3.html")):
            body = body.replace(f"<link>http://127.0.0.1/s{n}</link>", f"<link>{srv.url(path)}</link>")
        srv.route("/summaries.xml", Response(body.encode(), headers={"Content-Type": "application/rss+xml"}))
        srv.route("/wire.xml", Response(rss([("w1", "Story 1", full_text(1))]),
                                        headers={"Content-Type": "application/rss+xml"}))
        yield srv


def test_article_text_fetched_once_stored_and_matched(site: TestServer, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    store = Store(cfg.database.path)
    wire = store.feeds.upsert("wire", site.url("/wire.xml"), "wire", (), 1800, "cli")
    outlet = store.feeds.upsert("outlet", site.url("/summaries.xml"), "outlet", (), 1800, "cli")
    poller = Poller(cfg, store)
    assert poller.poll(wire).error is None
    out = poller.poll(outlet)
    assert out.error is None and out.new_entries == 3

    rows = {r["guid"]: r for r in store.query("SELECT guid, id, text, feed_text, article_text FROM entries")}
    for n in (1, 2):
        row = rows[f"s{n}"]
        assert row["article_text"] and sentences(n * 100 + 7, 3)[2] in row["article_text"]
        assert "Section 12" not in row["article_text"] and "newsletter" not in row["article_text"]
        assert row["feed_text"] and sentences(n * 100, 1)[0] in row["feed_text"]
        assert sentences(n * 100 + 5, 3)[0] in row["text"]  # the article text is what is matched
    assert rows["s3"]["article_text"] is None  # robots.txt disallows /private/
    assert site.hits_for("/private/3.html") == []
    link = store.query("SELECT original_id FROM reposts WHERE copy_id = ?", [rows["s1"]["id"]])
    assert link and link[0]["original_id"] == rows["w1"]["id"]

    # polled again, and by a fresh poller (a restart): no article page is fetched twice
    poller.poll(store.feeds.get(outlet.id))
    Poller(cfg, store).poll(store.feeds.get(outlet.id))
    relay_body = rss([("r1", "Story 1", summary(1))]).decode().replace(
        "<link>http://127.0.0.1/r1</link>", f"<link>{site.url('/a/1.html')}</link>")
    site.route("/relay.xml", Response(relay_body.encode()))
    relay = store.feeds.upsert("relay", site.url("/relay.xml"), "relay", (), 1800, "cli")
    assert Poller(cfg, store).poll(relay).new_entries == 1
    assert len(site.hits_for("/a/1.html")) == 1 and len(site.hits_for("/a/2.html")) == 1
    assert len(site.hits_for("/robots.txt")) <= 2  # once per poller (process), not once per article
    assert store.query("SELECT article_text FROM entries WHERE guid = 'r1'")[0]["article_text"]
    store.close()


def poll_one_article_feed(srv: TestServer, tmp_path: Path) -> tuple[Store, PollOutcome]:
    """Serve a feed of one summary whose link is an article page, and poll it once."""
    srv.route("/a/1.html", Response(article_page(1), headers={"Content-Type": "text/html"}))
    body = rss([("s1", "Story 1", summary(1))]).decode().replace(
        "<link>http://127.0.0.1/s1</link>", f"<link>{srv.url('/a/1.html')}</link>")
    srv.route("/f.xml", Response(body.encode()))
    cfg = config(tmp_path)
    store = Store(cfg.database.path)
    feed = store.feeds.upsert("f", srv.url("/f.xml"), "outlet", (), 1800, "cli")
    return store, Poller(cfg, store).poll(feed)


def test_robots_unreachable_means_no_article(tmp_path: Path) -> None:
    with TestServer() as srv:
        srv.route("/robots.txt", Response(b"oops", 500))
        store, outcome = poll_one_article_feed(srv, tmp_path)
        assert outcome.new_entries == 1
        assert srv.hits_for("/a/1.html") == []
        assert store.query("SELECT article_text FROM entries")[0]["article_text"] is None
        store.close()


@pytest.mark.parametrize("robots", [None, b"User-agent: *\nDisallow:\n"])
def test_no_robots_or_allow_all(tmp_path: Path, robots: bytes | None) -> None:
    with TestServer() as srv:
        if robots is not None:
            srv.route("/robots.txt", Response(robots))
        store, _ = poll_one_article_feed(srv, tmp_path)
        assert len(srv.hits_for("/a/1.html")) == 1
        assert store.query("SELECT article_text FROM entries")[0]["article_text"]
        store.close()


@pytest.mark.parametrize("feed_setting,summary_words,fetched", [
    (True, 0, True),     # fetch_article = true: always
    (False, 60, False),  # fetch_article = false: never, however short the text
    (None, 0, False),    # no threshold, no setting: never
])
def test_fetch_article_setting(tmp_path: Path, feed_setting: bool | None, summary_words: int,
                               fetched: bool) -> None:
    with TestServer() as srv:
        srv.route("/a/1.html", Response(article_page(1), headers={"Content-Type": "text/html"}))
        body = rss([("s1", "Story 1", summary(1))]).decode().replace(
            "<link>http://127.0.0.1/s1</link>", f"<link>{srv.url('/a/1.html')}</link>")
        srv.route("/f.xml", Response(body.encode()))
        cfg = parse_config(f'[database]\npath = "{tmp_path / "a.db"}"\n[defaults]\nsummary_words = {summary_words}\n'
                           "[fetch]\nper_host_delay = 0\nallow_private_networks = true\n")
        store = Store(cfg.database.path)
        feed = store.feeds.upsert("f", srv.url("/f.xml"), "outlet", (), 1800, "cli", feed_setting)
        Poller(cfg, store).poll(feed)
        assert (len(srv.hits_for("/a/1.html")) == 1) == fetched
        store.close()


def test_robots_rules_of_many_hosts_do_not_pile_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``ROBOTS_HOSTS`` hosts, the rules whose time is up are dropped (here: at once)."""
    monkeypatch.setattr(articles, "ROBOTS_HOSTS", 2)
    monkeypatch.setattr(articles, "ROBOTS_TTL", 0.0)
    cfg = FetchConfig(per_host_delay=0.0, allow_private_networks=True)
    fetcher = articles.ArticleFetcher(Fetcher(cfg), cfg)
    servers = [TestServer() for _ in range(4)]
    for srv in servers:
        with srv:
            srv.route("/a.html", Response(article_page(1), headers={"Content-Type": "text/html"}))
            assert fetcher.text_for(srv.url("/a.html"))
            assert len(srv.hits_for("/robots.txt")) == 1
            assert len(fetcher._robots) <= 2 and len(fetcher._robots_locks) <= 3
