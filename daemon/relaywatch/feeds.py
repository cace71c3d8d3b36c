"""feedparser -> ParsedEntry: identity, dates (UTC, flagged when not to be trusted), richest text."""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from .errors import RelaywatchError
from .models import ParsedEntry


class FeedError(RelaywatchError):
    pass


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
    return max(options, key=lambda s: len(re.sub(r"<[^>]*>", "", s)))


def entry_identity(guid: str | None, link: str | None, title: str, html: str) -> str:
    """guid/id, else link, else a hash of title + content."""
    if guid and guid.strip():
        return guid.strip()[:2000]
    if link and link.strip():
        return link.strip()[:2000]
    digest = hashlib.sha1(f"{title}\x00{html}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha1:{digest}"


def parse_feed(body: bytes, url: str, headers: dict[str, str] | None = None,
               now: datetime | None = None, max_entries: int = 500) -> FeedDocument:
    """Parse a feed document; FeedError when it is not a feed at all (bozo feeds with entries are kept)."""
    now = now or datetime.now(UTC)
    lowered = {k.lower(): v for k, v in (headers or {}).items()
               if k.lower() in ("content-type", "content-location", "content-language")}
    try:
        parsed = feedparser.parse(body, response_headers=lowered or None, resolve_relative_uris=True,
                                  sanitize_html=True)
    except Exception as e:  # feedparser is robust, but a parser bug must not stop the daemon
        raise FeedError(f"feed parser failed: {type(e).__name__}: {e}") from e
    warning = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        warning = f"{type(exc).__name__}: {exc}" if exc else "malformed feed"
        warning = " ".join(warning.split())[:300]
    entries_raw = parsed.get("entries") or []
    if not entries_raw and warning and not parsed.get("version"):
        raise FeedError(f"not a feed: {warning}")
    fmeta = parsed.get("feed") or {}
    if not entries_raw and not parsed.get("version") and not fmeta.get("title"):
        raise FeedError("not a feed: no RSS, Atom or RDF document found")
    entries = []
    seen: set[str] = set()
    for e in entries_raw[:max_entries]:
        title = " ".join(str(e.get("title") or "").split())
        html = _richest(e)
        link = str(e.get("link") or "")
        guid = entry_identity(e.get("id") or e.get("guid"), link, title, html)
        if guid in seen:
            continue
        seen.add(guid)
        raw = e.get("published") or e.get("updated") or e.get("created")
        parsed_dt = _struct_to_dt(e.get("published_parsed") or e.get("updated_parsed") or e.get("created_parsed"))
        published, flag = check_date(parsed_dt, raw, now)
        updated = _struct_to_dt(e.get("updated_parsed"))
        if updated is not None and check_date(updated, "x", now)[1]:
            updated = None
        entries.append(ParsedEntry(guid=guid, url=link, title=title, html=html, published=published,
                                   published_raw=str(raw)[:200] if raw else None, date_flag=flag,
                                   updated=updated))
    ttl = None
    raw_ttl = fmeta.get("ttl")
    if raw_ttl and str(raw_ttl).strip().isdigit():
        ttl = int(str(raw_ttl).strip()) * 60
    return FeedDocument(title=" ".join(str(fmeta.get("title") or "").split())[:300],
                        link=str(fmeta.get("link") or ""), ttl_seconds=ttl, entries=tuple(entries),
                        version=str(parsed.get("version") or ""), warning=warning)
