"""How the daily digest looks: a plain-text part and an HTML part, rendered with Jinja2.

The layout lives in ``report/templates/digest.txt.j2`` and ``digest.html.j2``; the formatting of
values (times in the digest's zone, lags, percentages, the plain-text tables) lives here, as
filters, so the templates hold no arithmetic. The HTML environment escapes every value it is
given unless it is marked safe (only the timeline strip, built by ``report.svg``, is), because
hand-built HTML strings are where escaping bugs live. Escaping uses ``html.escape``, as the
digest always has, so the output is the same byte for byte (``&#x27;``, not ``&#39;``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from relaywatch.report.digest.content import DigestContent
from relaywatch.report.questions import Copy, Story, percent
from relaywatch.report.svg import timeline_strip_html
from relaywatch.report.tables import format_lag, table

TOP_STORIES = 10                        # stories shown in full in the digest
TIMELINES = 5                           # of which this many get a compact timeline in the HTML part
TEXT_TEMPLATE = "digest.txt.j2"
HTML_TEMPLATE = "digest.html.j2"


# -- filters ------------------------------------------------------------------------------------

def when(dt: datetime, content: DigestContent) -> str:
    """A time in the digest's zone: the time alone on the digest's day, else with its date."""
    local = dt.astimezone(content.tz)
    return local.strftime("%H:%M %Z") if local.date() == content.day else local.strftime("%Y-%m-%d %H:%M %Z")


def copies_word(n: int) -> str:
    """``1 copy``, ``2 copies``."""
    return f"{n} {'copy' if n == 1 else 'copies'}"


def summary(content: DigestContent) -> str:
    """The digest's one-sentence summary: copies, stories, uncredited copies, late finds."""
    late = f" {copies_word(len(content.late))} of earlier days found late." if content.late else ""
    if not content.stories:
        return f"Nothing found: no copy of any story appeared on {content.title_day}." + late
    n_unc = len(content.uncredited)
    return (f"{copies_word(content.copies)} of {len(content.stories)} "
            f"{'story' if len(content.stories) == 1 else 'stories'}; "
            f"{n_unc} without credit to the original." + late)


def chain(c: Copy) -> str:
    """The feeds a copy's text went through (``wire > outlet > relay``), empty without a via."""
    return " > ".join(c.chain) if c.chain else ""


def via_note(c: Copy) -> str:
    """`` (via FEED)`` for a copy taken from another copy, else empty."""
    return f" (via {c.via_feed})" if c.via_feed else ""


def copies_table(story: Story, indent: str = "   ") -> str:
    """A story's copies as an indented plain-text table; the chain column only when a copy has one."""
    rows = [{"lag": c.lag, "feed": c.feed, "kind": c.kind_added, "coverage": percent(c.coverage),
             "taken": c.taken, "credited": c.credited, "via": chain(c)} for c in story.copies]
    cols = [("lag", "lag"), ("feed", "copy"), ("kind", "kind"), ("coverage", "used"), ("taken", "from original"),
            ("credited", "credited")]
    if any(r["via"] for r in rows):
        cols.append(("via", "chain"))
    return "\n".join(indent + line for line in table(rows, cols, max_width=60).splitlines())


def outlets_table(content: DigestContent) -> str:
    """The outlets' copies, median lag and share uncredited as a plain-text table."""
    rows = [{"feed": o.feed, "copies": o.copies, "median": format_lag(o.median_lag_seconds),
             "uncredited": percent(o.share_uncredited)} for o in content.outlets]
    return table(rows, [("feed", "outlet"), ("copies", "copies"), ("median", "median lag"),
                        ("uncredited", "uncredited")])


def timeline(story: Story) -> Markup:
    """The compact timeline strip of a story (HTML built and escaped by ``report.svg``)."""
    return Markup(timeline_strip_html(story))  # report.svg escapes what it puts in


def is_web_url(url: str) -> bool:
    """Whether a URL may be a link in the message (http or https only)."""
    return url.startswith(("http://", "https://"))


def _escape(value: object) -> Markup:
    """The HTML environment's ``finalize``: escape as ``html.escape`` does; safe markup passes."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


# -- environments -------------------------------------------------------------------------------

FILTERS = {"when": when, "copies_word": copies_word, "summary": summary, "percent": percent,
           "lag": format_lag, "chain": chain, "via_note": via_note, "copies_table": copies_table,
           "outlets_table": outlets_table, "timeline": timeline}


def _environment(autoescape: bool) -> Environment:
    """A Jinja2 environment on report/templates with the digest's filters, escaping or not."""
    env = Environment(loader=PackageLoader("relaywatch.report", "templates"), autoescape=autoescape,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True, finalize=_escape if autoescape else None)
    env.filters.update(FILTERS)
    env.tests["web_url"] = is_web_url
    env.globals.update(top_stories=TOP_STORIES, timelines=TIMELINES)
    return env


@cache
def text_environment() -> Environment:
    """The Jinja2 environment of the plain-text part: no escaping."""
    return _environment(autoescape=False)


@cache
def html_environment() -> Environment:
    """The Jinja2 environment of the HTML part: every value escaped unless marked safe."""
    return _environment(autoescape=True)


def render_text(content: DigestContent) -> str:
    """The plain-text part."""
    return text_environment().get_template(TEXT_TEMPLATE).render(c=content)


@dataclass(frozen=True)
class Picture:
    """The spread picture attached to the message: its Content-ID (without <>) and display size."""

    cid: str
    width: int
    height: int


def render_html(content: DigestContent, picture: Picture | None = None) -> str:
    """The HTML part: inline CSS only, no scripts; the spread picture (when given) by Content-ID."""
    return html_environment().get_template(HTML_TEMPLATE).render(c=content, picture=picture)
