"""feedparser -> ParsedEntry: identity, dates (UTC, flagged when not to be trusted), richest text.

Only feedparser's public API is used: ``feedparser.parse`` and its ``sanitize_html`` and
``resolve_relative_uris`` options. Nothing of feedparser is replaced or looked up at import time.

XML safety. feedparser 6 strips the DOCTYPE and keeps only internal entity declarations with a
literal value (no SYSTEM/PUBLIC entity, no parameter entity, no reference inside a value), and
its SAX parser has external general entities off; expat (>= 2.4) refuses billion-laughs
amplification. But when the strict parser gives up, feedparser's loose parser expands those kept
entities itself, without any limit: one 200 KB declaration referenced 20,000 times made a 260 KB
document take 11 GB of memory and 90 s. Until this release a wrapper was put in place of
``feedparser.api.replace_doctype`` at import time (a monkeypatch of an internal function) to
drop the kept entities past a budget. Now ``_limit_entities`` does it on the body before
``feedparser.parse`` sees it: it finds the declarations feedparser would keep (by feedparser's
own rules, copied below), and when they are more than ``MAX_ENTITIES`` or would expand to more
than ``ENTITY_BUDGET`` bytes, removes every entity declaration from the prolog, so feedparser
keeps none (references stay as literal text). A body in UTF-16/32 or EBCDIC is looked at decoded.

HTML sanitizing. feedparser sanitizes the HTML of every text field it returns, entry bodies
included, in pure Python: 3.4 of its 6.7 ms on a feed of 20 entries of bench/load.py. Entry
bodies need none of it: ``text.clean`` reduces them to text, dropping scripts, styles and
embedded objects itself, and the HTML is never stored or shown. So feedparser runs with
``sanitize_html=False``, and what must still be sanitized (titles of type HTML, which are kept
and shown, and the body of an entry known only by its content, whose identity is a hash of its
sanitized HTML) is sanitized afterwards by ``sanitize_like_feedparser``: one small Atom document
per feed holding just those fragments, given to ``feedparser.parse`` with ``sanitize_html=True``.
Until this release that was a direct call of the private ``feedparser.sanitizer._sanitize_html``,
looked up at import time; the output is the same (checked fragment by fragment on the
feedparser and Miniflux corpora of tests/test_robustness.py).
"""

from __future__ import annotations

import calendar
import codecs
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.sax.saxutils import escape

import feedparser

from relaywatch.errors import RelaywatchError
from relaywatch.models import ParsedEntry


class FeedError(RelaywatchError):
    pass


# -- entity declarations, limited before feedparser sees them ------------------------------------

ENTITY_BUDGET = 1_000_000   # bytes that declared entities may expand to in one document
MAX_ENTITIES = 64           # more internal entity declarations than this: none is kept

# feedparser 6's rules (feedparser/sanitizer.py, replace_doctype): the prolog ends at the first
# element; its entity and DOCTYPE declarations are found line by line; an entity is kept when its
# value is a literal or one character reference, and only when the prolog has one DOCTYPE
_ENTITY = re.compile(rb"^\s*<!ENTITY([^>]*?)>", re.MULTILINE)
_DOCTYPE = re.compile(rb"^\s*<!DOCTYPE([^>]*?)>", re.MULTILINE)
_SAFE_ENTITY = re.compile(rb'\s+(\w+)\s+"(&#\w+;|[^&"]*)"')
_ELEMENT = re.compile(rb"<\w")

# encodings in which "<!ENTITY" is not ASCII bytes: by byte-order mark, else by the first four
# bytes of "<?xm" (XML 1.0 appendix F, as feedparser sniffs them)
_BOMS = ((codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF32_LE, "utf-32-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF16_LE, "utf-16-le"))
_MARKERS = {b"\x00\x00\x00<": "utf-32-be", b"<\x00\x00\x00": "utf-32-le", b"\x00<\x00?": "utf-16-be",
            b"<\x00?\x00": "utf-16-le", b"\x4c\x6f\xa7\x94": "cp037"}
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)


def _drop_entities(data: bytes) -> tuple[bytes, str | None]:
    """``data`` without its prolog's entity declarations when those feedparser would keep are too
    many or would expand past the budget (and why), else ``data`` unchanged and None."""
    first = _ELEMENT.search(data)
    start = first.start() if first and first.start() else -1
    head, rest = data[:start + 1], data[start + 1:]
    declared = _ENTITY.findall(head)
    if not declared:
        return data, None
    bare = _ENTITY.sub(b"", head)
    safe = [e for e in declared if _SAFE_ENTITY.match(e)] if len(_DOCTYPE.findall(bare)) == 1 else []
    if not safe:
        return data, None
    replacement = b"<!DOCTYPE feed [\n<!ENTITY" + b">\n<!ENTITY ".join(safe) + b">\n]>"
    kept = dict(_SAFE_ENTITY.findall(replacement))
    if len(kept) > MAX_ENTITIES:
        return bare + rest, f"{len(kept)} entity declarations dropped (at most {MAX_ENTITIES})"
    out = _DOCTYPE.sub(lambda _: replacement, bare) + rest
    expansion = sum(out.count(b"&" + name + b";") * len(value) for name, value in kept.items())
    if expansion > ENTITY_BUDGET:
        return bare + rest, f"{len(kept)} entity declarations dropped (would expand to {expansion:,} bytes)"
    return data, None


def _wide_codec(body: bytes, headers: dict[str, str]) -> tuple[int, str] | None:
    """(length of the byte-order mark, codec) when the body is in an encoding that is not ASCII-compatible."""
    for bom, codec in _BOMS:
        if body.startswith(bom) and not (len(bom) == 2 and body[2:4] == b"\x00\x00"):
            return len(bom), codec
    if body[:4] in _MARKERS:
        return 0, _MARKERS[body[:4]]
    charset = _CHARSET.search(next((v for k, v in headers.items() if k.lower() == "content-type"), ""))
    if charset:
        try:
            if "<".encode(charset.group(1)) not in (b"<", b"\xef\xbb\xbf<"):
                return 0, charset.group(1)
        except (LookupError, UnicodeError):
            pass
    return None


def _limit_entities(body: bytes, headers: dict[str, str]) -> tuple[bytes, str | None]:
    """The body as feedparser should see it: see the module docstring (XML safety)."""
    wide = _wide_codec(body, headers)
    if wide is not None:
        skip, codec = wide
        try:
            data = body[skip:].decode(codec).encode("utf-8")
        except (LookupError, UnicodeError):
            wide = None  # feedparser will not read it so either: it falls back to ASCII-compatible guesses
        else:
            if b"<!ENTITY" not in data:
                return body, None
            out, note = _drop_entities(data)
            return (body[:skip] + out.decode("utf-8").encode(codec), note) if note else (body, None)
    if b"<!ENTITY" not in body:
        return body, None
    return _drop_entities(body)


# -- sanitizing what is kept as HTML ----------------------------------------------------------------

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_MARK = "\ue000"  # leads each fragment, so feedparser's own fixes of mis-encoded text leave it as it is
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TAG_OR_COMMENT = re.compile(r"<!--.*?(?:-->|$)|<[^>]*>?", re.S)


def sanitize_like_feedparser(fragments: list[str]) -> list[str]:
    """Each HTML fragment as feedparser returns an HTML field when its sanitizer is on.

    One Atom document holds every fragment as the ``type="html"`` title of an entry and goes
    through ``feedparser.parse(..., sanitize_html=True)``. Each fragment is led by a private-use
    character (feedparser re-decodes text whose every character is Latin-1 as UTF-8, a repair
    for mis-encoded feeds the fragment has already had) and characters XML cannot carry stand
    in for by other private-use ones for the trip. Should the result not come back as expected,
    a fragment is reduced to escaped text rather than returned unsanitized.
    """
    if not fragments:
        return []
    parts, swaps = [], []
    for text in fragments:
        swap: dict[str, str] = {}
        bad = set(_NOT_XML.findall(text))
        if bad:
            free = (c for c in map(chr, range(0xE001, 0xF900)) if c not in text)
            swap = {ch: next(free) for ch in sorted(bad)}
            text = text.translate(str.maketrans(swap))
        swaps.append({v: k for k, v in swap.items()})
        parts.append('<entry><title type="html">' + escape(_MARK + text).replace("\r", "&#13;") + "</title></entry>")
    doc = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
           + "".join(parts) + "</feed>")
    try:
        parsed = feedparser.parse(doc.encode("utf-8"), sanitize_html=True, resolve_relative_uris=False)
        entries = parsed.entries if not parsed.get("bozo") and len(parsed.entries) == len(fragments) else None
    except Exception:  # pragma: no cover - feedparser is robust; the fallback below is safe
        entries = None
    out = []
    for i, text in enumerate(fragments):
        value = str(entries[i].get("title", "")) if entries is not None else ""
        if value.startswith(_MARK):
            out.append(value[1:].translate(str.maketrans(swaps[i])).strip() if swaps[i] else value[1:].strip())
        else:  # pragma: no cover - not seen on any corpus
            out.append(escape(" ".join(_TAG_OR_COMMENT.sub(" ", text).split())))
    return out


FUTURE_SLACK = timedelta(days=1)        # a date further ahead than this is a wrong clock
EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)  # before this: an epoch-zero or garbage date


@dataclass(frozen=True)
class FeedDocument:
    title: str
    link: str
    ttl_seconds: int | None
    entries: tuple[ParsedEntry, ...]
    version: str
    warning: str | None  # feedparser's bozo exception, when entries were still found


def _struct_to_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def check_date(dt: datetime | None, raw: str | None, now: datetime) -> tuple[datetime | None, str | None]:
    """(trusted UTC date or None, flag): missing, unparsed, future or ancient dates are not trusted."""
    if dt is None:
        return None, ("unparsed" if raw else "missing")
    if dt > now + FUTURE_SLACK:
        return None, "future"
    if dt < EARLIEST:
        return None, "ancient"
    return dt, None


def _richest(entry: Any) -> str:
    """The longest of content / summary / description (by visible text length)."""
    options: list[str] = []
    for c in entry.get("content") or ():
        value = c.get("value") if isinstance(c, dict) else None
        if value:
            options.append(value)
    for key in ("summary", "description"):
        value = entry.get(key)
        if value:
            options.append(value)
    if not options:
        return ""
    return max(options, key=_visible_length)


_INVISIBLE = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")


def _visible_length(html: str) -> int:
    """Characters of text a reader would see (scripts and styles are not: bodies are not sanitized)."""
    return len(_TAG.sub("", _INVISIBLE.sub("", html)))


def _html_title(value: Any, detail: Any) -> str | None:
    """A title of type HTML, which must be sanitized as feedparser would have; None for plain text."""
    text = str(value or "")
    kind = detail.get("type") if isinstance(detail, dict) else None
    return text if text and kind in _HTML_TYPES else None


def _one_line(value: Any) -> str:
    return " ".join(str(value or "").split())


def entry_identity(guid: str | None, link: str | None, title: str, html: str) -> str:
    """guid/id, else link, else a hash of title + content."""
    if guid and guid.strip():
        return guid.strip()[:2000]
    if link and link.strip():
        return link.strip()[:2000]
    digest = hashlib.sha1(f"{title}\x00{html}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha1:{digest}"


def _base_url(url: str, content_location: str | None) -> str:
    """The address relative links resolve against: a safe Content-Location, else the document's URL."""
    if content_location and content_location.strip():
        joined = urljoin(url, content_location.strip())
        if urlsplit(joined).scheme in ("http", "https"):
            return joined
    return url


def _absolute(base: str, link: str) -> str:
    """A link made absolute against ``base`` when it is relative (feedparser leaves it so without xml:base)."""
    link = link.strip()
    if not link or urlsplit(link).scheme or urlsplit(base).scheme not in ("http", "https"):
        return link
    try:
        return urljoin(base, link)
    except ValueError:
        return link


def _feedparse(body: bytes, headers: dict[str, str]) -> tuple[Any, str | None]:
    """feedparser's result and its warning (a malformed feed, entities dropped); FeedError when
    the body is not a feed at all."""
    # Content-Location is not passed: feedparser would resolve relative guids against it, and an
    # entry's identity must not change when its feed moves; links are resolved by the caller
    lowered = {k.lower(): v for k, v in headers.items() if k.lower() in ("content-type", "content-language")}
    body, dropped = _limit_entities(body, headers)
    try:
        # relative URIs inside entry HTML are not resolved: only the cleaned text is kept (and it
        # saves a second HTML pass per entry); entry and feed links are made absolute below
        parsed = feedparser.parse(body, response_headers=lowered or None, resolve_relative_uris=False,
                                  sanitize_html=False)
    except Exception as e:  # feedparser is robust, but a parser bug must not stop the daemon
        raise FeedError(" ".join(f"feed parser failed: {type(e).__name__}: {e}".split())[:300]) from e
    warning = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        warning = f"{type(exc).__name__}: {exc}" if exc else "malformed feed"
        warning = " ".join(warning.split())[:300]
    if dropped:
        warning = f"{dropped}; {warning}" if warning else dropped
    entries_raw = parsed.get("entries") or []
    if not entries_raw and warning and not parsed.get("version"):
        raise FeedError(f"not a feed: {warning}")
    if not entries_raw and not parsed.get("version") and not (parsed.get("feed") or {}).get("title"):
        raise FeedError("not a feed: no RSS, Atom or RDF document found")
    return parsed, warning


def _entry(e: Any, guid: str, link: str, title: str, html: str, now: datetime) -> ParsedEntry:
    """One entry, its dates checked (``check_date``)."""
    # dict.get: feedparser's own get() maps a missing 'updated' to 'published' with a warning
    raw = dict.get(e, "published") or dict.get(e, "updated") or dict.get(e, "created")
    parsed_dt = _struct_to_dt(dict.get(e, "published_parsed") or dict.get(e, "updated_parsed")
                              or dict.get(e, "created_parsed"))
    published, flag = check_date(parsed_dt, raw, now)
    updated = _struct_to_dt(dict.get(e, "updated_parsed"))
    if updated is not None and check_date(updated, "x", now)[1]:
        updated = None
    return ParsedEntry(guid=guid, url=link, title=title, html=html, published=published,
                       published_raw=str(raw)[:200] if raw else None, date_flag=flag, updated=updated)


def parse_feed(body: bytes, url: str, headers: dict[str, str] | None = None,
               now: datetime | None = None, max_entries: int = 500) -> FeedDocument:
    """Parse a feed document; FeedError when it is not a feed at all (bozo feeds with entries are kept)."""
    now = now or datetime.now(UTC)
    base = _base_url(url, {k.lower(): v for k, v in (headers or {}).items()}.get("content-location"))
    parsed, warning = _feedparse(body, headers or {})
    entries_raw = parsed.get("entries") or []
    fmeta = parsed.get("feed") or {}
    # what must be sanitized, gathered first to go through feedparser's sanitizer in one document:
    # HTML titles, and the HTML of entries with neither id nor link (known by a hash of their
    # sanitized HTML, as it was when feedparser sanitized it, so that they keep their identity)
    fragments: list[str] = []

    def later(text: str | None) -> int | None:
        if text is None:
            return None
        fragments.append(text)
        return len(fragments) - 1

    feed_title = later(_html_title(fmeta.get("title"), fmeta.get("title_detail")))
    todo = []
    for e in entries_raw[:max_entries]:
        html = _richest(e)
        link = _absolute(base, str(e.get("link") or ""))
        given = e.get("id") or e.get("guid")
        known_by_content = not (given and str(given).strip()) and not link.strip()
        todo.append((e, html, link, given, later(_html_title(e.get("title"), e.get("title_detail"))),
                     later(html) if known_by_content else None))
    done = sanitize_like_feedparser(fragments)
    entries = []
    seen: set[str] = set()
    for e, html, link, given, title_at, html_at in todo:
        title = _one_line(done[title_at] if title_at is not None else e.get("title"))
        guid = entry_identity(given, link, title, done[html_at] if html_at is not None else html)
        if guid not in seen:
            seen.add(guid)
            entries.append(_entry(e, guid, link, title, html, now))
    ttl = None
    raw_ttl = fmeta.get("ttl")
    if raw_ttl and str(raw_ttl).strip().isdigit():
        ttl = int(str(raw_ttl).strip()) * 60
    return FeedDocument(title=_one_line(done[feed_title] if feed_title is not None else fmeta.get("title"))[:300],
                        link=_absolute(base, str(fmeta.get("link") or "")), ttl_seconds=ttl, entries=tuple(entries),
                        version=str(parsed.get("version") or ""), warning=warning)
