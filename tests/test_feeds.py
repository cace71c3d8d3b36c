"""parse_feed: XML safety (entities), entry limits, dates that cannot be trusted."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from relaywatch.detect.prepare import prepare
from relaywatch.poll.feeds import FeedError, entry_identity, parse_feed, sanitize_like_feedparser

from ._servers import Response, TestServer

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _doc(doctype: str, title: str) -> bytes:
    return (f'<?xml version="1.0"?>\n{doctype}\n<rss version="2.0"><channel><title>t</title>'
            f"<item><guid>1</guid><title>{title}</title><description>body</description></item>"
            "</channel></rss>").encode()


def _parse_bounded(body: bytes, seconds: float = 5.0, peak_mb: int = 60) -> tuple[object, float, int]:
    tracemalloc.start()
    t0 = time.monotonic()
    try:
        doc = parse_feed(body, "http://127.0.0.1/feed.xml", now=NOW)
        elapsed = time.monotonic() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < seconds, f"parse took {elapsed:.1f}s"
    assert peak < peak_mb << 20, f"parse peaked at {peak:,} bytes"
    return doc, elapsed, peak


def test_billion_laughs_not_expanded() -> None:
    decls = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + ("" if i == 1 else str(i - 1)) + ";") * 10}">' for i in range(1, 10)]
    body = _doc("<!DOCTYPE rss [\n " + "\n ".join(decls) + "\n]>", "&lol9;")
    doc, _, _ = _parse_bounded(body)
    assert doc.entries and "lollollol" not in doc.entries[0].title  # type: ignore[attr-defined]


def test_billion_laughs_on_one_line_not_expanded() -> None:
    body = _doc('<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>', "&c;&c;&c;")
    doc, _, _ = _parse_bounded(body)
    assert all("aaaaaaaaaaaaaaaaaaaa" not in e.title for e in doc.entries)  # type: ignore[attr-defined]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-32", "cp037"])
def test_quadratic_blowup_bounded(encoding: str) -> None:
    # one literal entity of 20 KB referenced 1,000 times: 20 MB if expanded (feedparser's loose
    # parser expands it with no limit; scaled up, this took 11 GB and 90 s)
    value = "A" * 20_000
    text = _doc(f'<!DOCTYPE rss [\n <!ENTITY a "{value}">\n]>', "&a;" * 1000).decode()
    if encoding != "utf-8":
        text = text.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>')
    doc, _, _ = _parse_bounded(text.encode(encoding))
    assert doc.entries
    title = doc.entries[0].title  # type: ignore[attr-defined]
    assert len(title) < 100_000 and "AAAAAAAAAA" not in title
    assert doc.warning and "entity declarations dropped" in doc.warning  # type: ignore[attr-defined]


def test_small_entity_still_expanded() -> None:
    body = _doc('<!DOCTYPE rss [\n  <!ENTITY id "tag:example.com,">\n]>', "&id;2006")
    doc, _, _ = _parse_bounded(body)
    assert doc.entries[0].title == "tag:example.com,2006"  # type: ignore[attr-defined]


def test_external_entities_not_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-XYZ-42")
    with TestServer() as srv:
        srv.route("/evil.dtd", Response(b'<!ENTITY remote "REMOTE-XYZ">'))
        srv.route("/ent.txt", Response(b"REMOTE-ENT-XYZ"))
        variants = [
            _doc(f'<!DOCTYPE rss [\n <!ENTITY xxe SYSTEM "file://{secret}">\n]>', "x&xxe;y"),
            _doc(f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>', "x&xxe;y"),
            _doc(f'<!DOCTYPE rss [\n <!ENTITY web SYSTEM "{srv.url("/ent.txt")}">\n]>', "x&web;y"),
            _doc(f'<!DOCTYPE rss SYSTEM "{srv.url("/evil.dtd")}">', "x&remote;y"),
            _doc(f'<!DOCTYPE rss [\n <!ENTITY % p SYSTEM "{srv.url("/evil.dtd")}">\n %p;\n]>', "x&remote;y"),
        ]
        for body in variants:
            doc, _, _ = _parse_bounded(body)
            for e in doc.entries:  # type: ignore[attr-defined]
                assert "XYZ" not in e.title + e.html
        assert srv.hits == []


def test_max_entries_per_poll() -> None:
    items = "".join(f"<item><guid>g{i}</guid><title>t{i}</title></item>" for i in range(600))
    body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    doc = parse_feed(body, "http://127.0.0.1/f", now=NOW, max_entries=50)
    assert len(doc.entries) == 50 and doc.entries[0].guid == "g0" and doc.entries[-1].guid == "g49"


def test_untrusted_dates_flagged() -> None:
    items = [("future", "Sat, 01 Jan 2050 00:00:00 GMT"), ("epoch", "Thu, 01 Jan 1970 00:00:00 GMT"),
             ("ok", "Fri, 27 Nov 2026 10:00:00 GMT"), ("garbage", "the day before yesterday"),
             ("none", "")]
    xml = "".join(f"<item><guid>{g}</guid><title>{g}</title>" + (f"<pubDate>{d}</pubDate>" if d else "")
                  + "</item>" for g, d in items)
    doc = parse_feed(f'<rss version="2.0"><channel><title>t</title>{xml}</channel></rss>'.encode(),
                     "http://127.0.0.1/f", now=NOW)
    by = {e.guid: e for e in doc.entries}
    assert by["future"].published is None and by["future"].date_flag == "future"
    assert by["epoch"].published is None and by["epoch"].date_flag == "ancient"
    assert by["ok"].published == datetime(2026, 11, 27, 10, tzinfo=UTC) and by["ok"].date_flag is None
    assert by["garbage"].published is None and by["garbage"].date_flag == "unparsed"
    assert by["none"].date_flag == "missing"


@pytest.mark.parametrize("body", [b"", b"<html><body><p>Hello</p></body></html>", b"\x00\xff\xfe garbage",
                                  b"{\"version\": \"https://jsonfeed.org/version/1\"}"])
def test_not_a_feed(body: bytes) -> None:
    with pytest.raises(FeedError, match="not a feed"):
        parse_feed(body, "http://127.0.0.1/f", now=NOW)


def test_ttl_read() -> None:
    body = b'<rss version="2.0"><channel><title>t</title><ttl>90</ttl><item><guid>1</guid></item></channel></rss>'
    assert parse_feed(body, "http://127.0.0.1/f", now=NOW).ttl_seconds == 5400


def test_titles_sanitized_bodies_left_to_the_text_cleaner() -> None:
    """feedparser's sanitizer is off (its cost is a quarter of parsing): an HTML title is sanitized
    here as feedparser would have; a body's script never reaches the stored text; an entry known
    by its content keeps the identity it had when feedparser sanitized its HTML."""
    body = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title type="html">'
            b"&lt;b&gt;Wire&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt;desk</title>"
            b'<entry><id>e1</id><title type="html">Storm &lt;script&gt;x()&lt;/script&gt;&lt;i&gt;hits&lt;/i&gt; coast'
            b'</title><content type="html">&lt;p style="color:red"&gt;Waves rose.&lt;/p&gt;'
            b"&lt;script&gt;steal()&lt;/script&gt;&lt;p&gt;Roads shut.&lt;/p&gt;</content></entry>"
            b'<entry><title>No id</title><content type="html">&lt;p onclick="x()"&gt;Only text.&lt;/p&gt;</content>'
            b"</entry></feed>")
    doc = parse_feed(body, "http://127.0.0.1/feed.xml", now=NOW)
    sanitized = feedparser.parse(body, sanitize_html=True, resolve_relative_uris=False)
    assert doc.title == sanitized.feed.title == "<b>Wire</b> desk"
    assert doc.entries[0].title == sanitized.entries[0].title == "Storm <i>hits</i> coast"
    assert "script" in doc.entries[0].html  # unsanitized body...
    assert prepare(doc.entries[0]).clean.text == "Waves rose.\n\nRoads shut."  # ...whose script is dropped
    assert doc.entries[1].guid == entry_identity(None, "", "No id", sanitized.entries[1].content[0].value)


def test_the_richest_body_is_the_one_with_most_visible_text() -> None:
    """A teaser padded with a script is not richer than the full story beside it."""
    story = "<p>" + "The harbour closed at dawn after the storm. " * 20 + "</p>"
    teaser = "<p>Harbour closed.</p><script>" + "var x = 1; " * 400 + "</script>"
    body = ('<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
            f"<channel><title>t</title><item><guid>1</guid><title>Harbour</title><description><![CDATA[{teaser}]]>"
            f"</description><content:encoded><![CDATA[{story}]]></content:encoded></item></channel></rss>").encode()
    assert parse_feed(body, "http://127.0.0.1/feed.xml", now=NOW).entries[0].html.startswith("<p>The harbour")


def test_feedparser_left_as_it_is() -> None:
    """Nothing of feedparser is replaced: its DOCTYPE step is its own (the entity limit is applied
    on the body before parsing) and its module attributes are as feedparser sets them."""
    import feedparser.api
    import feedparser.sanitizer

    assert feedparser.api.replace_doctype is feedparser.sanitizer.replace_doctype
    assert feedparser.SANITIZE_HTML and feedparser.RESOLVE_RELATIVE_URIS  # defaults, not switched off globally


@pytest.mark.parametrize("fragment,expected", [
    ("<b>x</b><script>y()</script> z", "<b>x</b> z"),
    ('<p onclick="x()" style="color:red">t</p>', '<p style="color: red;">t</p>'),
    ("caf\u00c3\u00a9 <i>ok</i>", "caf\u00c3\u00a9 <i>ok</i>"),  # already repaired text is not re-decoded
    ("a\x0bb <i>c</i>\r\nd", "a\x0bb <i>c</i>\nd"),  # characters XML cannot carry make the trip
    ("", ""),
    ("<!-- unclosed <b>x", ""),
])
def test_sanitize_like_feedparser(fragment: str, expected: str) -> None:
    assert sanitize_like_feedparser([fragment]) == [expected]
    doc = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="html">'
           + fragment.replace("&", "&amp;").replace("<", "&lt;").replace("\x0b", "") + "</title></entry></feed>")
    if "\x0b" not in fragment and "\u00c3" not in fragment and fragment:  # feedparser's own, on a real feed
        assert feedparser.parse(doc.encode(), sanitize_html=True).entries[0].title == expected
