"""Private networks: a URL found in feed content reaches no loopback, private or link-local address.

Real HTTP servers on loopback addresses. A test cannot reach a public address, so where a test
needs one, a name resolves (through the policy's resolver) to 127.0.0.2, and the policy's
``refuse`` takes that one address for a public one; every other address is judged by the real
``refusal``.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from relaywatch.config import FetchConfig, parse_config
from relaywatch.poll.http import AddressRefused, Fetcher, FetchError
from relaywatch.poll.netguard import IP, AddressPolicy, AddrInfo, refusal
from relaywatch.poll.poller import Poller
from relaywatch.store import Store

from ._servers import Response, TestServer, rss

PAGE = b"<html><body><article><p>internal secret</p></article></body></html>"
PUBLIC_STAND_IN = ipaddress.ip_address("127.0.0.2")  # "public" in these tests


def cfg(**kw: object) -> FetchConfig:
    base = FetchConfig(connect_timeout=2.0, read_timeout=5.0, total_timeout=5.0, per_host_delay=0.0,
                       per_host_concurrency=8, respect_robots=False)
    return base.model_copy(update=kw)


def resolver(names: dict[str, list[str]]) -> object:
    """Resolves the names given to their addresses, anything else as the system does."""

    def resolve(host: str, port: int) -> list[AddrInfo]:
        if host not in names:
            return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in names[host]]

    return resolve


def stand_in_public(ip: IP) -> str | None:
    return None if ip == PUBLIC_STAND_IN else refusal(ip)


def policy(names: dict[str, list[str]]) -> AddressPolicy:
    return AddressPolicy(resolver=resolver(names), refuse=stand_in_public)  # type: ignore[arg-type]


@pytest.fixture
def inside() -> Iterator[TestServer]:
    """The user's internal service, on 127.0.0.1."""
    with TestServer("127.0.0.1") as srv:
        srv.route("/admin", Response(PAGE))
        yield srv


@pytest.fixture
def outside() -> Iterator[TestServer]:
    """A "public" site, on 127.0.0.2 (Linux routes all of 127/8 to loopback)."""
    with TestServer("127.0.0.2") as srv:
        srv.route("/page", Response(PAGE))
        yield srv


@pytest.mark.parametrize(("address", "why"), [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.1.2.3", "private network"),
    ("172.16.0.9", "private network"),
    ("192.168.1.1", "private network"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "shared address space (CGNAT)"),
    ("100.127.255.254", "shared address space (CGNAT)"),
    ("224.0.0.251", "multicast"),
    ("0.0.0.0", "unspecified address"),
    ("::1", "loopback"),
    ("::", "unspecified address"),
    ("fe80::1", "link-local"),
    ("fd12:3456::1", "unique-local"),
    ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "loopback, 127.0.0.1 inside an IPv6 address"),
    ("::ffff:169.254.169.254", "link-local, 169.254.169.254 inside an IPv6 address"),
    ("::ffff:10.0.0.1", "private network, 10.0.0.1 inside an IPv6 address"),
    ("64:ff9b::a9fe:a9fe", "link-local, 169.254.169.254 inside an IPv6 address"),
    ("2002:7f00:1::1", "loopback, 127.0.0.1 inside an IPv6 address"),
    ("192.0.2.7", "private network"),
])
def test_refused_addresses(address: str, why: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", ["8.8.8.8", "151.101.1.1", "100.128.0.1", "2606:4700::1111",
                                     "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_loopback_link_refused_but_configured_feed_fetched(inside: TestServer) -> None:
    f = Fetcher(cfg())
    with pytest.raises(AddressRefused, match=r"^refusing 127\.0\.0\.1: it resolves to 127\.0\.0\.1 \(loopback\); "
                                             r"a link in a feed may not reach a private network "
                                             r"\(\[fetch\] allow_private_networks = true allows it\)$"):
        f.get(inside.url("/admin"), from_content=True)
    assert inside.hits_for("/admin") == []
    assert f.get(inside.url("/admin")).body == PAGE  # a URL the user configured: not restricted


def test_public_looking_name_resolving_to_loopback(inside: TestServer) -> None:
    url = f"http://news.example.com:{inside.port}/admin"
    names = {"news.example.com": ["127.0.0.1"]}
    with pytest.raises(AddressRefused, match=r"^refusing news\.example\.com: it resolves to 127\.0\.0\.1 \(loopback\)"):
        Fetcher(cfg(), policy=policy(names)).get(url, from_content=True)
    assert inside.hits_for("/admin") == []
    # the same name, the user having opted in: the resolver's answer is what was connected to
    allowed = AddressPolicy(allow_private=True, resolver=resolver(names))  # type: ignore[arg-type]
    assert Fetcher(cfg(), policy=allowed).get(url, from_content=True).body == PAGE
    assert inside.hits_for("/admin")[0].headers["Host"] == f"news.example.com:{inside.port}"


def test_only_the_checked_address_is_connected_to(inside: TestServer, outside: TestServer) -> None:
    """A name with a private and a public address: the connection goes to the public one, the
    address that was checked (no second look-up a rebinding DNS server could answer otherwise)."""
    inside.route("/page", Response(b"inside"))
    names = {"mixed.example.com": ["127.0.0.1", "127.0.0.2"]}
    port = outside.port
    with TestServer("127.0.0.1", port) as same_port_inside:
        same_port_inside.route("/page", Response(b"inside"))
        res = Fetcher(cfg(), policy=policy(names)).get(f"http://mixed.example.com:{port}/page", from_content=True)
        assert res.body == PAGE
        assert same_port_inside.hits_for("/page") == []
    assert len(outside.hits_for("/page")) == 1


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://[::1]:{port}/admin",
                                    "http://localhost:{port}/admin", "http://2130706433:{port}/admin",
                                    "http://[::ffff:127.0.0.1]:{port}/admin", "http://0.0.0.0:{port}/admin"])
def test_redirect_inward_refused(outside: TestServer, inside: TestServer, target: str) -> None:
    """A public page redirecting to the metadata service or to loopback (by IPv6, by name, as a
    decimal number, IPv4-mapped, as 0.0.0.0): the hop is refused before anything is sent to it."""
    location = target.format(port=inside.port)
    outside.route("/moved", Response(b"", 302, {"Location": location}))
    names = {"public.example.org": ["127.0.0.2"]}
    f = Fetcher(cfg(), policy=policy(names))
    with pytest.raises(AddressRefused, match=r"^refusing .*\((link-local|loopback|unspecified address)"):
        f.get(f"http://public.example.org:{outside.port}/moved", from_content=True)
    assert len(outside.hits_for("/moved")) == 1
    assert inside.hits_for("/admin") == []
    assert f.get(f"http://public.example.org:{outside.port}/page", from_content=True).body == PAGE


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback (::1) to serve on")
def test_ipv6_loopback_refused() -> None:
    with TestServer("::1") as v6:
        v6.route("/admin", Response(PAGE))
        f = Fetcher(cfg())
        with pytest.raises(AddressRefused, match=r"^refusing ::1: it resolves to ::1 \(loopback\)"):
            f.get(v6.url("/admin"), from_content=True)
        assert v6.hits_for("/admin") == []
        assert f.get(v6.url("/admin")).body == PAGE


def test_opt_in_reaches_private_networks(inside: TestServer) -> None:
    assert Fetcher(cfg(allow_private_networks=True)).get(inside.url("/admin"), from_content=True).body == PAGE


def test_unresolvable_name_is_an_ordinary_fetch_error() -> None:
    names: dict[str, list[str]] = {"nowhere.example.com": []}
    with pytest.raises(FetchError, match=r"^cannot connect to nowhere\.example\.com:8080: ") as err:
        Fetcher(cfg(), policy=policy(names)).get("http://nowhere.example.com:8080/", from_content=True)
    assert not isinstance(err.value, AddressRefused)


def test_entry_linking_inward_is_stored_from_its_feed_text(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The daemon's path: a feed the user configured (on 127.0.0.1: allowed) links an entry to a
    page on 127.0.0.1 and asks for it (a summary under ``summary_words``). The page is not fetched,
    the reason is logged on one line, the entry is stored from the feed's text."""
    with TestServer() as srv:
        srv.route("/robots.txt", Response(b"User-agent: *\nDisallow:\n"))
        srv.route("/admin", Response(PAGE))
        body = rss([("s1", "Harbour closes", "<p>The harbour closed on Tuesday after a storm.</p>")]).decode()
        body = body.replace("<link>http://127.0.0.1/s1</link>", f"<link>{srv.url('/admin')}</link>")
        srv.route("/feed.xml", Response(body.encode(), headers={"Content-Type": "application/rss+xml"}))
        config = parse_config(f'[database]\npath = "{tmp_path / "a.db"}"\n[defaults]\nsummary_words = 60\n'
                              "[fetch]\nper_host_delay = 0\n")
        store = Store(config.database.path)
        feed = store.feeds.upsert("f", srv.url("/feed.xml"), "outlet", (), 1800, "cli")
        with caplog.at_level(logging.WARNING, logger="relaywatch.poll.articles"):
            outcome = Poller(config, store).poll(feed)
        assert outcome.error is None and outcome.new_entries == 1
        assert srv.hits_for("/admin") == [] and srv.hits_for("/robots.txt") == []
        assert [r.getMessage() for r in caplog.records] == [
            f"article {srv.url('/admin')} not fetched: refusing 127.0.0.1: it resolves to 127.0.0.1 (loopback); "
            "a link in a feed may not reach a private network ([fetch] allow_private_networks = true allows it)"]
        row = store.query("SELECT text, article_text FROM entries")[0]
        assert row["article_text"] is None and "harbour closed on Tuesday" in row["text"]
        store.close()


def test_environment_proxy_not_used_for_links_in_feeds(outside: TestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """With $HTTP_PROXY set, a link from a feed still goes straight to the address that was checked
    (through a proxy, the proxy would choose the address); a configured feed uses the proxy."""
    with TestServer("127.0.0.1") as proxy:
        proxy.route("/page", Response(b"via the proxy"))
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("NO_PROXY", "")
        f = Fetcher(cfg(), policy=policy({"public.example.org": ["127.0.0.2"]}))
        url = f"http://public.example.org:{outside.port}/page"
        assert f.get(url, from_content=True).body == PAGE
        assert proxy.hits_for("/page") == [] and len(outside.hits_for("/page")) == 1
        assert f.get(url).body == b"via the proxy"
