"""Questions put to the log: the repost list (and, as the project grows, stories and outlets)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relaywatch.store import Store

REPOST_KEYS = ("original_url", "original_feed", "original_title", "copy_url", "copy_feed", "copy_title",
               "via_url", "via_feed", "kind", "coverage", "lag_seconds", "credited", "anomaly",
               "original_published", "copy_published", "copy_first_seen")


@dataclass(frozen=True)
class RepostQuery:
    since: datetime | None = None
    feed: str | None = None
    limit: int | None = None


def reposts(store: Store, q: RepostQuery | None = None) -> list[dict[str, Any]]:
    """One dict per link, with the keys of ``REPOST_KEYS`` (credited as a bool)."""
    q = q or RepostQuery()
    rows = store.reports.repost_rows(q.since, q.feed, q.limit)
    out = []
    for r in rows:
        d = {k: r[k] for k in REPOST_KEYS}
        d["credited"] = bool(d["credited"])
        out.append(d)
    return out


def format_lag(seconds: float | None) -> str:
    """+5h 12m, +2d 3h, +45m, -1h 5m."""
    if seconds is None:
        return ""
    sign = "-" if seconds < 0 else "+"
    s = int(abs(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    if d:
        return f"{sign}{d}d {h}h"
    if h:
        return f"{sign}{h}h {m:02d}m"
    return f"{sign}{m}m"


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], max_width: int = 40) -> str:
    """A plain-text table: columns are (key, heading)."""
    if not rows:
        return "(none)"
    cells = [[_cell(r.get(k), max_width) for k, _ in columns] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (_, h) in enumerate(columns)]
    lines = ["  ".join(h.ljust(w) for (_, h), w in zip(columns, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def _cell(value: Any, max_width: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    text = " ".join(str(value).split())
    return text if len(text) <= max_width else text[: max_width - 1] + "…"


def reposts_table(rows: list[dict[str, Any]]) -> str:
    view = [dict(r, lag=format_lag(r["lag_seconds"]), coverage_pct=f"{round(r['coverage'] * 100)}%") for r in rows]
    return table(view, [("copy_feed", "copy"), ("copy_title", "title"), ("original_feed", "original"),
                        ("kind", "kind"), ("coverage_pct", "coverage"), ("lag", "lag"),
                        ("credited", "credited"), ("via_feed", "via")])
