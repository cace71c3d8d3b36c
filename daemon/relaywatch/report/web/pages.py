"""What the web pages show, read from the store through ``report.questions`` (no SQL here).

Each function takes an open ``Store`` and the page's ``WebSettings`` and returns plain data for a
template; times are turned into the configured zone here, so templates hold no arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from relaywatch.errors import RelaywatchError
from relaywatch.report.digest.content import day_window
from relaywatch.report.questions import Copy, OutletStats, Story, copies_between, outlet_stats, percentile, stories
from relaywatch.report.tables import format_lag
from relaywatch.store import SCHEMA_VERSION, Store, StoreError, utcnow

FRONT_STORIES = 20          # stories on the front page
FRONT_OUTLETS = 10          # outlets without credit on the front page
OUTLET_WEEKS = 12           # weeks the outlet page covers
WEB_BUSY_TIMEOUT = 5.0      # seconds a page waits for a locked database before saying so


class WebError(RelaywatchError):
    pass


@dataclass(frozen=True)
class WebSettings:
    """What the plugin needs, from Datasette's plugin configuration (``plugins.relaywatch``)."""

    database: str           # Datasette's name of the database
    db_path: str
    timezone: str = "UTC"
    busy_timeout: float = WEB_BUSY_TIMEOUT

    @classmethod
    def from_plugin_config(cls, cfg: dict[str, Any]) -> WebSettings:
        try:
            return cls(str(cfg["database"]), str(cfg["db_path"]), str(cfg.get("timezone", "UTC")),
                       float(cfg.get("busy_timeout", WEB_BUSY_TIMEOUT)))
        except (KeyError, TypeError, ValueError) as e:
            raise WebError(f"plugins.relaywatch needs database and db_path: {e}") from e

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
        return "" if dt is None else dt.astimezone(self.tz).strftime(fmt)


@contextmanager
def open_store(settings: WebSettings) -> Iterator[Store]:
    """The database, for reading only (never migrated here: ``relaywatch serve`` migrates before serving)."""
    store = Store(settings.db_path, min(settings.busy_timeout, WEB_BUSY_TIMEOUT), migrate=False)
    try:
        store.conn.execute("PRAGMA query_only=1")  # a page never writes: SQLite refuses it if one tried
        version = store.schema_version()
        if version < SCHEMA_VERSION:
            raise WebError(f"{settings.db_path} has schema version {version}, older than this relaywatch "
                           f"({SCHEMA_VERSION}): run relaywatch serve (or any relaywatch command) to migrate it")
        yield store
    finally:
        store.close()


def _copy_row(c: Copy, s: WebSettings) -> dict[str, Any]:
    return {"id": c.copy_id, "feed": c.feed, "title": c.title, "url": c.url, "when": s.local(c.when),
            "lag": c.lag, "kind": c.kind, "coverage": f"{round(c.coverage * 100)}%", "credited": c.credited,
            "via": " > ".join(c.chain[1:-1]) if c.chain else "", "note": c.anomaly or "",
            "original_id": c.original_id, "original_feed": c.original_feed, "original_title": c.original_title}


def _story_head(st: Story, s: WebSettings) -> dict[str, Any]:
    return {"id": st.id, "title": st.title, "url": st.url, "feed": st.feed, "when": s.local(st.published),
            "copies": len(st.copies), "credited": st.credited,
            "first_lag": st.copies[0].lag if st.copies else ""}


# -- the story page -------------------------------------------------------------------------------

def story_page(store: Store, settings: WebSettings, entry_id: int) -> dict[str, Any]:
    """The original, every copy in order of lag, and the SVG timeline (``report.svg``, as ``story --svg``)."""
    from relaywatch.report.questions import story
    from relaywatch.report.svg import story_svg

    st = story(store, entry_id)  # ReportError: no such entry
    return {"story": _story_head(st, settings), "copies": [_copy_row(c, settings) for c in st.copies],
            "svg": story_svg(st)}


# -- the front page -------------------------------------------------------------------------------

def latest_day(store: Store, tz: ZoneInfo) -> date | None:
    """The latest day (in ``tz``) on which some copy appeared; None before the first copy."""
    last = [s.last_copy for s in stories(store) if s.last_copy is not None]
    return max(last).astimezone(tz).date() if last else None


def _uncredited(outlets: list[OutletStats]) -> list[dict[str, Any]]:
    rows = [{"feed": o.feed, "copies": o.copies, "uncredited": o.copies - o.credited,
             "share": f"{round(o.share_uncredited * 100)}%", "median_lag": format_lag(o.median_lag_seconds)}
            for o in outlets if o.copies > o.credited]
    rows.sort(key=lambda r: (-r["uncredited"], r["feed"]))
    return rows[:FRONT_OUTLETS]


def front_page(store: Store, settings: WebSettings, day: date | None = None) -> dict[str, Any]:
    """The most copied stories of ``day`` (default: the latest day with copies) and the outlets
    that copied most without credit that day, with the previous and next days."""
    day = day or latest_day(store, settings.tz)
    if day is None:
        return {"day": None, "stories": [], "outlets": [], "copies": 0}
    start, end = day_window(day, settings.tz)
    day_stories = copies_between(store, start, end)
    copies = [c for st in day_stories for c in st.copies]
    return {"day": day.isoformat(), "title_day": day.strftime("%A %-d %B %Y"),
            "previous": (day - timedelta(days=1)).isoformat(), "next": (day + timedelta(days=1)).isoformat(),
            "stories": [_story_head(st, settings) for st in day_stories[:FRONT_STORIES]],
            "more": max(len(day_stories) - FRONT_STORIES, 0), "copies": len(copies),
            "outlets": _uncredited(outlet_stats(copies))}


# -- the outlet page ------------------------------------------------------------------------------

def _week_rows(copies: list[Copy], tz: ZoneInfo) -> list[dict[str, Any]]:
    weeks: dict[date, list[Copy]] = {}
    for c in copies:
        local = c.when.astimezone(tz).date()
        weeks.setdefault(local - timedelta(days=local.weekday()), []).append(c)
    out = []
    for monday in sorted(weeks, reverse=True):
        cs = weeks[monday]
        credited = sum(c.credited for c in cs)
        out.append({"week": monday.isoformat(), "label": f"{monday:%G-W%V} (from {monday:%a %-d %b})",
                    "copies": len(cs), "credited": credited, "credit_rate": f"{round(100 * credited / len(cs))}%",
                    "median_lag": format_lag(percentile([c.lag_seconds for c in cs], 50))})
    return out


def outlet_page(store: Store, settings: WebSettings, feed: str, weeks: int = OUTLET_WEEKS,
                now: datetime | None = None) -> dict[str, Any]:
    """What a feed republished over the last ``weeks`` weeks: per week and in all, copies, median
    lag and credit rate, then each copy. WebError when no feed has that name."""
    if store.feeds.by_name(feed) is None:
        raise WebError(f"no feed named {feed!r}")
    end = (now or utcnow()) + timedelta(days=1)
    start = (end - timedelta(weeks=weeks)).replace(hour=0, minute=0, second=0, tzinfo=UTC)
    copies = sorted((c for st in copies_between(store, start, end) for c in st.copies if c.feed == feed),
                    key=lambda c: (c.when, c.copy_id), reverse=True)
    stats = outlet_stats(copies)
    total = stats[0] if stats else None
    return {"feed": feed, "weeks": weeks, "since": settings.local(start, "%Y-%m-%d"),
            "copies": len(copies), "median_lag": format_lag(total.median_lag_seconds) if total else "",
            "credit_rate": f"{round(total.share_credited * 100)}%" if total else "",
            "sources": list(total.top_sources) if total else [],
            "by_week": _week_rows(copies, settings.tz), "rows": [_copy_row(c, settings) for c in copies]}


def parse_day(text: str | None) -> date | None:
    """The ``?day=YYYY-MM-DD`` of the front page; WebError for anything else."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise WebError(f"day must be YYYY-MM-DD, not {text!r}") from e


__all__ = ["StoreError", "WebError", "WebSettings", "front_page", "latest_day", "open_store", "outlet_page",
           "parse_day", "story_page"]
