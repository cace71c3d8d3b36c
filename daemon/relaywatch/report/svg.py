"""Pictures of a story's spread, drawn by hand (no plotting library, no scripts, no external files).

``story_svg``: a standalone SVG timeline: one row per outlet, time since the original across;
the mark's shape is the kind of copy (circle verbatim, triangle excerpt, square edited; the
original is a diamond), filled when the copy credits the original and hollow when it does not;
a dashed line joins a copy to the copy it was taken from (via).

``timeline_strip_html``: the compact version for the HTML digest. Mail clients (Gmail, Outlook)
drop inline SVG, so it is a one-row table of time bins holding the same marks as text glyphs,
styled inline.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from relaywatch.report.questions import Story
from relaywatch.report.tables import cell_width, format_lag

KIND_LABEL = {"verbatim": "verbatim", "excerpt": "excerpt", "edited": "edited"}
GLYPHS = {("verbatim", True): "●", ("verbatim", False): "○", ("excerpt", True): "▲",
          ("excerpt", False): "△", ("edited", True): "■", ("edited", False): "□"}
COLOR = "#1f4e79"
UNCREDITED = "#b03a2e"
MARGIN = 20
TITLE_LINES = 2
_WIDE_LATIN = frozenset("MWmw@%")


def text_px(text: str, size: float, bold: bool = False) -> float:
    """A generous estimate of the width of ``text`` in pixels (no font is at hand when the SVG is
    written): a wide (CJK) character, M, W, m or w one em, another capital 0.8 em, others 0.64 em;
    bold 12% more. Helvetica, Arial, Liberation Sans and DejaVu Sans (the widest of them) stay
    within it."""
    em = 0.0
    for c in text:
        if cell_width(c) == 2 or c in _WIDE_LATIN:
            em += 1.0
        elif c.isupper():
            em += 0.8
        else:
            em += 0.64
    return em * size * (1.12 if bold else 1.0)


def fit_px(text: str, size: float, max_px: float, bold: bool = False) -> str:
    """``text`` cut (with an ellipsis) to fit ``max_px``."""
    if text_px(text, size, bold) <= max_px:
        return text
    while text and text_px(text + "…", size, bold) > max_px:
        text = text[:-1]
    return text.rstrip() + "…"


def wrap_px(text: str, size: float, max_px: float, lines: int, bold: bool = False) -> list[str]:
    """``text`` in at most ``lines`` lines of ``max_px``, broken at a space where the line has one
    (anywhere in CJK text), the last line ellipsised if the text goes on."""
    out: list[str] = []
    rest = " ".join(text.split())
    while rest and len(out) < lines - 1 and text_px(rest, size, bold) > max_px:
        n = len(fit_px(rest, size, max_px, bold).removesuffix("…"))  # the characters that fit
        cut = rest.rfind(" ", 0, n + 1)
        cut = cut if cut > 0 else max(n, 1)
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        out.append(fit_px(rest, size, max_px, bold))
    return out


def _ticks(lo: float, hi: float) -> tuple[float, list[float]]:
    """A tick step (seconds) and the ticks covering [lo, hi]."""
    span = max(hi - lo, 1.0)
    for step in (300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800):
        if span / step <= 8:
            break
    else:
        step = 604800 * max(1, round(span / 604800 / 8))
    first = (lo // step) * step
    ticks, t = [], first
    while t <= hi + 1e-9:
        if t >= lo - 1e-9:
            ticks.append(t)
        t += step
    return step, ticks


def _mark(kind: str, x: float, y: float, r: float, filled: bool, color: str) -> str:
    fill = color if filled else "#ffffff"
    style = f'fill="{fill}" stroke="{color}" stroke-width="2"'
    if kind == "excerpt":
        pts = f"{x:.1f},{y - r:.1f} {x + r:.1f},{y + r * 0.8:.1f} {x - r:.1f},{y + r * 0.8:.1f}"
        return f'<polygon points="{pts}" {style}/>'
    if kind == "edited":
        return f'<rect x="{x - r * 0.85:.1f}" y="{y - r * 0.85:.1f}" width="{r * 1.7:.1f}" ' \
               f'height="{r * 1.7:.1f}" {style}/>'
    if kind == "original":
        pts = f"{x:.1f},{y - r:.1f} {x + r:.1f},{y:.1f} {x:.1f},{y + r:.1f} {x - r:.1f},{y:.1f}"
        return f'<polygon points="{pts}" {style}/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r * 0.9:.1f}" {style}/>'


@dataclass(frozen=True)
class _Frame:
    """Where things go on the timeline: one row per outlet, time since the original across."""

    rows: list[str]
    lo: float
    hi: float
    width: int
    row_h: int = 34
    top: int = 56
    left: int = 170
    right: int = 30

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    @property
    def axis_y(self) -> int:
        return self.top + self.row_h * len(self.rows)

    def x(self, t: float) -> float:
        return self.left + (t - self.lo) / (self.hi - self.lo) * self.plot_w

    def y(self, feed: str) -> float:
        return self.top + self.rows.index(feed) * self.row_h + self.row_h / 2


def _frame(story: Story, width: int, top: int) -> _Frame:
    rows: list[str] = [story.feed]
    for c in story.copies:
        if c.feed not in rows:
            rows.append(c.feed)
    lo = min([0.0, *(c.lag_seconds for c in story.copies)])
    hi = max([3600.0, *(c.lag_seconds for c in story.copies)])
    return _Frame(rows, lo, hi + (hi - lo) * 0.04, width, top=top)


def _head(story: Story, title: list[str], width: int, height: int) -> list[str]:
    """The document, its background, the story's title (in lines) and a line about it."""
    w = width
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" '
           f'viewBox="0 0 {w} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12" '
           f'role="img" aria-label={quoteattr("Spread of: " + story.title)}>',
           f"<title>{escape(story.title)}</title>",
           f'<rect x="0" y="0" width="{w}" height="{height}" fill="#ffffff"/>']
    for i, line in enumerate(title):
        out.append(f'<text class="title" x="{MARGIN}" y="{22 + 19 * i}" font-size="15" font-weight="bold">'
                   f"{escape(line)}</text>")
    about = (f"{story.feed}, {story.published.strftime('%Y-%m-%d %H:%M UTC')}, {len(story.copies)} copies")
    out.append(f'<text x="{MARGIN}" y="{40 + 19 * (len(title) - 1)}" fill="#555555">'
               f"{escape(fit_px(about, 12, w - 2 * MARGIN))}</text>")
    return out


def _grid(f: _Frame) -> list[str]:
    """The outlets' rows, the time ticks and the axis."""
    out = []
    for i, feed in enumerate(f.rows):
        y = f.y(feed)
        if i % 2:
            out.append(f'<rect x="{f.left}" y="{y - f.row_h / 2:.1f}" width="{f.plot_w}" height="{f.row_h}" '
                       f'fill="#f4f6f8"/>')
        label = fit_px(feed, 12, f.left - 10 - MARGIN / 2)
        out.append(f'<text x="{f.left - 10}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
    _, ticks = _ticks(f.lo, f.hi)
    for t in ticks:
        x = f.x(t)
        out.append(f'<line x1="{x:.1f}" y1="{f.top}" x2="{x:.1f}" y2="{f.axis_y}" stroke="#dddddd"/>')
        label = "0" if t == 0 else format_lag(t)
        out.append(f'<text x="{x:.1f}" y="{f.axis_y + 16}" text-anchor="middle" fill="#555555">{label}</text>')
    out.append(f'<line x1="{f.left}" y1="{f.axis_y}" x2="{f.left + f.plot_w}" y2="{f.axis_y}" stroke="#888888"/>')
    out.append(f'<text x="{f.left + f.plot_w / 2:.1f}" y="{f.axis_y + 32}" text-anchor="middle" fill="#555555">'
               "time since the original</text>")
    return out


def _marks(story: Story, f: _Frame) -> list[str]:
    """The original, each copy, and the dashed lines from a copy to the copy it was taken from."""
    where = {c.copy_id: (f.x(c.lag_seconds), f.y(c.feed)) for c in story.copies}
    where[story.id] = (f.x(0), f.y(story.feed))
    out = []
    for c in story.copies:
        if c.via_id is not None and c.via_id in where:
            (x1, y1), (x2, y2) = where[c.via_id], where[c.copy_id]
            out.append(f'<line class="via" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                       f'stroke="#888888" stroke-dasharray="4 3"/>')
    x0, y0 = where[story.id]
    out.append(f'<g class="mark original" data-entry-id="{story.id}"><title>{escape(story.feed)}: original'
               f"</title>{_mark('original', x0, y0, 8, True, '#333333')}</g>")
    for c in story.copies:
        x, y = where[c.copy_id]
        color = COLOR if c.credited else UNCREDITED
        tip = (f"{c.feed}: {c.kind}, {round(c.coverage * 100)}% of the original, {c.lag}, "
               f"{'credited' if c.credited else 'not credited'}"
               + (f", via {c.via_feed}" if c.via_feed else "") + (f" ({c.anomaly})" if c.anomaly else ""))
        out.append(f'<g class="mark copy {escape(c.kind)}" data-entry-id="{c.copy_id}" '
                   f'data-credited="{str(c.credited).lower()}"><title>{escape(tip)}</title>'
                   f"{_mark(c.kind, x, y, 7, c.credited, color)}</g>")
    return out


def _legend(top: float, width: int) -> tuple[list[str], float]:
    """The legend's items left to right, on as many lines as the width needs; its height."""
    items: list[tuple[float, list[str]]] = []  # (width, elements drawn at x = 0)
    legend = [("original", True, "#333333", "original"), ("verbatim", True, COLOR, "verbatim, credited"),
              ("excerpt", True, COLOR, "excerpt, credited"), ("edited", True, COLOR, "edited, credited"),
              ("verbatim", False, UNCREDITED, "hollow: not credited")]
    for kind, filled, color, label in legend:
        items.append((16 + text_px(label, 12), [_mark(kind, 6, 0, 6, filled, color),
                                                 f'<text x="16" y="4">{escape(label)}</text>']))
    via = "taken via another copy"
    dashed = '<line x1="0" y1="0" x2="24" y2="0" stroke="#888888" stroke-dasharray="4 3"/>'
    items.append((30 + text_px(via, 12), [dashed, f'<text x="30" y="4">{escape(via)}</text>']))
    out, x, y = [], float(MARGIN), top
    for w, parts in items:
        if x > MARGIN and x + w > width - MARGIN:
            x, y = float(MARGIN), y + 20
        out.append(f'<g class="legend" transform="translate({x:.1f},{y:.1f})">{"".join(parts)}</g>')
        x += w + 14
    return out, y - top + 20


def story_svg(story: Story, width: int = 760) -> str:
    """The story's spread as a standalone SVG document: a long title wraps to two lines and is then
    cut, the legend wraps, so no text leaves the picture."""
    title = wrap_px(story.title, 15, width - 2 * MARGIN, TITLE_LINES, bold=True)
    f = _frame(story, width, top=56 + 19 * (len(title) - 1))
    legend, legend_h = _legend(f.axis_y + 52, width)
    height = int(f.axis_y + 52 + legend_h + 6)
    out = [*_head(story, title, width, height), *_grid(f), *_marks(story, f), *legend, "</svg>"]
    return "\n".join(out) + "\n"


def timeline_strip_html(story: Story, bins: int = 24) -> str:
    """A compact timeline for e-mail: one table row of time bins with a glyph per copy."""
    if not story.copies:
        return ""
    hi = max(3600.0, *(max(c.lag_seconds, 0.0) for c in story.copies))
    cells: list[list[str]] = [[] for _ in range(bins)]
    for c in story.copies:
        i = min(bins - 1, max(0, int(max(c.lag_seconds, 0.0) / hi * bins)))
        color = COLOR if c.credited else UNCREDITED
        tip = f"{c.feed} {c.lag} {c.kind} {'credited' if c.credited else 'not credited'}"
        glyph = GLYPHS.get((c.kind, c.credited), "●")
        cells[i].append(f'<span title="{html.escape(tip)}" style="color:{color}">{glyph}</span>')
    cells[0].insert(0, '<span title="original" style="color:#333333">◆</span>')
    td = ('<td style="border-left:1px solid #e3e3e3;padding:0;height:18px;text-align:center;'
          'font-size:12px;line-height:14px;vertical-align:middle">')
    tds = "".join(f'{td}{"".join(c)}</td>\n' for c in cells)
    return ('<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse;'
            'width:100%;max-width:520px;table-layout:fixed;border:1px solid #e3e3e3;margin:4px 0 2px 0">'
            f"\n<tr>\n{tds}</tr></table>\n"
            '<table role="presentation" cellpadding="0" cellspacing="0" style="width:100%;max-width:520px;'
            'font-size:11px;color:#777777"><tr><td style="text-align:left">0</td>'
            f'<td style="text-align:right">{html.escape(format_lag(hi))}</td></tr></table>')
