"""The digest's picture: the spread of the day's top stories as one PNG, for the HTML part.

It is drawn by ``report.svg.story_svg`` (the same drawing as ``relaywatch story --svg`` and the
web view's story page): the top stories' timelines stacked in one SVG, rendered to PNG by
cairosvg (which needs the cairo library: Debian's ``libcairo2``). Mail clients block SVG and
remote images, so the message carries the PNG itself, inline by Content-ID. Without cairo, or if
rendering fails, the digest goes out without the picture (logged), never not at all.
"""

from __future__ import annotations

import logging

from relaywatch.report.questions import Story
from relaywatch.report.svg import story_svg

log = logging.getLogger("relaywatch.report.digest")

PICTURE_STORIES = 3      # the day's most copied stories drawn in the picture
WIDTH = 760              # pixels, as story --svg draws
SCALE = 1.5              # rendered at 1.5x for sharp text on high-density screens; shown at WIDTH


def spread_svg(stories: list[Story], width: int = WIDTH) -> tuple[str, int]:
    """The stories' timelines stacked in one SVG document, and its height."""
    inner, y = [], 0
    for s in stories:
        svg = story_svg(s, width)
        height = int(svg.split('height="', 1)[1].split('"', 1)[0])
        inner.append(svg.replace("<svg ", f'<svg x="0" y="{y}" ', 1))
        y += height
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
            f'viewBox="0 0 {width} {y}">')
    return head + "\n" + "".join(inner) + "</svg>\n", y


def spread_png(stories: list[Story], limit: int = PICTURE_STORIES) -> tuple[bytes, int, int] | None:
    """A PNG of the top ``limit`` stories' spread with its display width and height; None when no
    story has a copy, or when it cannot be rendered here (no cairo)."""
    drawn = [s for s in stories if s.copies][:limit]
    if not drawn:
        return None
    svg, height = spread_svg(drawn)
    try:
        import cairosvg

        png = cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=SCALE)
    except (ImportError, OSError) as e:  # cairocffi raises OSError when libcairo is missing
        log.warning("digest: no picture (cannot render PNG: %s); install libcairo2", e)
        return None
    except Exception as e:  # a drawing cairosvg cannot read: the digest goes without it
        log.error("digest: no picture (rendering failed: %s: %s)", type(e).__name__, e)
        return None
    return bytes(png), WIDTH, height
