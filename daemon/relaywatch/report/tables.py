"""Questions put to the log: the repost list (and, as the project grows, stories and outlets)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wcwidth import wcswidth, wcwidth

from relaywatch.store import Store

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
REPOST_KEYS = ("original_url", "original_feed", "original_title", "copy_url", "copy_feed", "copy_title",
               "via_url", "via_feed", "kind", "coverage", "lag_seconds", "credited", "anomaly",
               "original_published", "copy_published", "copy_first_seen",
               "added_before", "added_inside", "added_after", "added_words", "credit_link",
               "copy_share", "copy_sentences", "taken_sentences")


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
    """A plain-text table: columns are (key, heading); widths in terminal cells (a CJK character
    takes two), so columns line up whatever the script."""
    if not rows:
        return "(none)"
    cells = [[_cell(r.get(k), max_width) for k, _ in columns] for r in rows]
    widths = [max(cell_width(h), *(cell_width(c[i]) for c in cells)) for i, (_, h) in enumerate(columns)]
    lines = ["  ".join(_pad(h, w) for (_, h), w in zip(columns, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def cell_width(text: str) -> int:
    """Terminal cells ``text`` takes (wcwidth: East Asian wide characters 2, combining marks 0)."""
    width = wcswidth(text)
    return width if width >= 0 else sum(max(wcwidth(c), 0) for c in text)


def fit(text: str, max_width: int) -> str:
    """``text`` cut to at most ``max_width`` cells, an ellipsis marking the cut."""
    if cell_width(text) <= max_width:
        return text
    out, used = [], 0
    for c in text:
        w = max(wcwidth(c), 0)
        if used + w > max_width - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def _pad(text: str, width: int) -> str:
    return text + " " * (width - cell_width(text))


def _cell(value: Any, max_width: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    text = " ".join(_CONTROL.sub("\ufffd", str(value)).split())  # no escape sequence reaches the terminal
    return fit(text, max_width)


def kind_label(kind: str, added_words: int | None) -> str:
    """What happened to the original's text, and what the page added: "verbatim +42 words"."""
    if not added_words:
        return kind
    return f"{kind} +{added_words} {'word' if added_words == 1 else 'words'}"


def taken_label(copy_share: float | None, copy_sentences: int | None, taken_sentences: int | None) -> str:
    """How much of the copy comes from the original: "3/5 sentences, 62%" (words); "" when unknown."""
    words = "" if copy_share is None else f"{round(copy_share * 100)}%"
    if not copy_sentences:
        return words
    return f"{taken_sentences}/{copy_sentences} sentences, {words}"


def reposts_table(rows: list[dict[str, Any]]) -> str:
    view = [dict(r, lag=format_lag(r["lag_seconds"]), coverage_pct=f"{round(r['coverage'] * 100)}%",
                 kind_added=kind_label(r["kind"], r.get("added_words")),
                 taken=taken_label(r.get("copy_share"), r.get("copy_sentences"), r.get("taken_sentences")))
            for r in rows]
    return table(view, [("copy_feed", "copy"), ("copy_title", "title"), ("original_feed", "original"),
                        ("kind_added", "kind"), ("coverage_pct", "used"), ("taken", "from original"),
                        ("lag", "lag"), ("credited", "credited"), ("via_feed", "via")])
