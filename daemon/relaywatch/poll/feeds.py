"""feedparser -> ParsedEntry: identity, dates (UTC, flagged when not to be trusted), richest text.

XML safety. feedparser 6.0.14 strips the DOCTYPE and keeps only internal entity declarations
with a literal value (no SYSTEM/PUBLIC entity, no parameter entity, no reference inside a
value), and its SAX parser has external general entities off; expat (>= 2.4) refuses
billion-laughs amplification. But when the strict parser gives up, feedparser's loose parser
expands those kept entities itself, without any limit: one 200 KB declaration referenced
20,000 times made a 260 KB document take 11 GB of memory and 90 s. ``_safe_replace_doctype``
wraps feedparser's DOCTYPE step: when the kept entities are too many or would expand to more
than ``ENTITY_BUDGET`` bytes, all of them are dropped (references stay as literal text).
"""

from __future__ import annotations

import calendar
import hashlib
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import feedparser.api
import feedparser.sanitizer

from relaywatch.errors import RelaywatchError
from relaywatch.models import ParsedEntry


class FeedError(RelaywatchError):
    pass


ENTITY_BUDGET = 1_000_000   # bytes that declared entities may expand to in one document
MAX_ENTITIES = 64           # more internal entity declarations than this: none is kept
_DECLARED = re.compile(rb"<!DOCTYPE feed \[\n<!ENTITY.*?\n\]>", re.DOTALL)
_dropped = threading.local()


def _safe_replace_doctype(data: bytes) -> tuple[str | None, bytes, dict[str, str]]:
    version, out, entities = _ORIGINAL_REPLACE_DOCTYPE(data)
    if entities:
        too_many = len(entities) > MAX_ENTITIES
        expansion = 0
        if not too_many:
            for name, value in entities.items():
                expansion += out.count(b"&" + name.encode() + b";") * len(value.encode("utf-8"))
        if too_many or expansion > ENTITY_BUDGET:
            out = _DECLARED.sub(b"", out, count=1)
            _dropped.note = (f"{len(entities)} entity declarations dropped (would expand to "
                             f"{expansion:,} bytes)" if not too_many else
                             f"{len(entities)} entity declarations dropped (at most {MAX_ENTITIES})")
            entities = {}
    return version, out, entities


_ORIGINAL_REPLACE_DOCTYPE = getattr(feedparser.api, "replace_doctype", None)
if _ORIGINAL_REPLACE_DOCTYPE is None:  # pragma: no cover - a feedparser without this step
    raise ImportError("relaywatch needs feedparser 6 (feedparser.api.replace_doctype not found)")
if getattr(_ORIGINAL_REPLACE_DOCTYPE, "__name__", "") == "_safe_replace_doctype":  # pragma: no cover
    _ORIGINAL_REPLACE_DOCTYPE = getattr(_ORIGINAL_REPLACE_DOCTYPE, "__wrapped__", _ORIGINAL_REPLACE_DOCTYPE)
_safe_replace_doctype.__wrapped__ = _ORIGINAL_REPLACE_DOCTYPE  # type: ignore[attr-defined]
feedparser.api.replace_doctype = _safe_replace_doctype

# feedparser sanitizes the HTML of every text field it returns, entry bodies included, by parsing and
# rewriting it in pure Python: 3.4 of its 6.7 ms on a feed of 20 entries of bench/load.py. Entry
# bodies need none of it: ``text.clean`` reduces them to text, dropping scripts, styles and embedded
# objects itself, and the HTML is never stored or shown. So feedparser runs with its sanitizer off
# and the titles, which are kept and shown, are sanitized here as feedparser would have done.
_sanitize = getattr(feedparser.sanitizer, "_sanitize_html", None)
if _sanitize is None:  # pragma: no cover - a feedparser without it
    raise ImportError("relaywatch needs feedparser 6 (feedparser.sanitizer._sanitize_html not found)")
_HTML_TYPES = ("text/html", "application/xhtml+xml")

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


def _title(value: Any, detail: Any) -> str:
    """A title as feedparser gives it with its sanitizer on: an HTML title's markup sanitized."""
    text = str(value or "")
    kind = detail.get("type") if isinstance(detail, dict) else None
    if text and kind in _HTML_TYPES:
        text = str(_sanitize(text, "utf-8", kind))
    return " ".join(text.split())


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


def parse_feed(body: bytes, url: str, headers: dict[str, str] | None = None,
               now: datetime | None = None, max_entries: int = 500) -> FeedDocument:
    """Parse a feed document; FeedError when it is not a feed at all (bozo feeds with entries are kept)."""
    now = now or datetime.now(UTC)
    # Content-Location is not passed: feedparser would resolve relative guids against it, and an
    # entry's identity must not change when its feed moves; links are resolved below instead
    lowered = {k.lower(): v for k, v in (headers or {}).items() if k.lower() in ("content-type", "content-language")}
    base = _base_url(url, {k.lower(): v for k, v in (headers or {}).items()}.get("content-location"))
    _dropped.note = None
    try:
        # relative URIs inside entry HTML are not resolved: only the cleaned text is kept (and it
        # saves a second HTML pass per entry); entry and feed links are made absolute below
        parsed = feedparser.parse(body, response_headers=lowered or None, resolve_relative_uris=False,
                                  sanitize_html=False)
    except Exception as e:  # feedparser is robust, but a parser bug must not stop the daemon
        raise FeedError(" ".join(f"feed parser failed: {type(e).__name__}: {e}".split())[:300]) from e
    finally:
        dropped, _dropped.note = _dropped.note, None
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
    fmeta = parsed.get("feed") or {}
    if not entries_raw and not parsed.get("version") and not fmeta.get("title"):
        raise FeedError("not a feed: no RSS, Atom or RDF document found")
    entries = []
    seen: set[str] = set()
    for e in entries_raw[:max_entries]:
        title = _title(e.get("title"), e.get("title_detail"))
        html = _richest(e)
        link = _absolute(base, str(e.get("link") or ""))
        given = e.get("id") or e.get("guid")
        # an entry with neither id nor link is known by a hash of its content: of the sanitized
        # HTML, as it was when feedparser sanitized it, so that such an entry keeps its identity
        known_by_content = not (given and str(given).strip()) and not link.strip()
        guid = entry_identity(given, link, title, _sanitize(html, "utf-8", "text/html") if known_by_content else html)
        if guid in seen:
            continue
        seen.add(guid)
        # dict.get: feedparser's own get() maps a missing 'updated' to 'published' with a warning
        raw = dict.get(e, "published") or dict.get(e, "updated") or dict.get(e, "created")
        parsed_dt = _struct_to_dt(dict.get(e, "published_parsed") or dict.get(e, "updated_parsed")
                                  or dict.get(e, "created_parsed"))
        published, flag = check_date(parsed_dt, raw, now)
        updated = _struct_to_dt(dict.get(e, "updated_parsed"))
        if updated is not None and check_date(updated, "x", now)[1]:
            updated = None
        entries.append(ParsedEntry(guid=guid, url=link, title=title, html=html, published=published,
                                   published_raw=str(raw)[:200] if raw else None, date_flag=flag,
                                   updated=updated))
    ttl = None
    raw_ttl = fmeta.get("ttl")
    if raw_ttl and str(raw_ttl).strip().isdigit():
        ttl = int(str(raw_ttl).strip()) * 60
    return FeedDocument(title=_title(fmeta.get("title"), fmeta.get("title_detail"))[:300],
                        link=_absolute(base, str(fmeta.get("link") or "")), ttl_seconds=ttl, entries=tuple(entries),
                        version=str(parsed.get("version") or ""), warning=warning)
