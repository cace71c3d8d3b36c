"""The SVG timeline, drawn by a real renderer (rsvg-convert, librsvg): long and CJK titles, long
feed names and the legend stay inside the picture."""

from __future__ import annotations

import io
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image
from relaywatch.poll.archive import ingest_file
from relaywatch.report.questions import Story, story
from relaywatch.report.svg import fit_px, story_svg, text_px, wrap_px
from relaywatch.store import Store

from . import report_data

SVG = "{http://www.w3.org/2000/svg}"
MARGIN = 300  # pixels of canvas added around the picture: ink there has left it
LONG_TITLE = ("Harbour board of Port Ellery approves a tidal barrier across the mouth of the old fishing basin after "
              "nine years of dispute, forty-one million crowns and three winters of work expected by engineers")
CJK_TITLE = ("日本政府周二宣布福岛第一核电站的处理水将于周四开始排放入海中国外交部表示强烈反对并要求日方停止排放计划"
             "立即与邻国协商韩国和太平洋岛国也表达了关切渔民担心海产品出口受到影响")
JA_TITLE = "東京電力、福島第一原子力発電所の処理水の海洋放出を開始　政府は安全性を強調"


def _spread(store: Store, tmp_path: Path, title: str, copies: list[tuple[str, str]]) -> Story:
    """A wire story titled ``title`` and verbatim copies (feed, title) an hour apart, ingested."""
    text = "\n\n".join(report_data.HARBOUR)
    rows = [{"feed": "wire", "guid": "w", "url": "https://wire.example/w", "title": title,
             "published": "2026-11-27T08:00:00Z", "text": text}]
    rows += [{"feed": feed, "guid": f"c{i}", "url": f"https://{feed}.example/c{i}", "title": t,
              "published": f"2026-11-27T{9 + i:02d}:00:00Z", "text": text} for i, (feed, t) in enumerate(copies)]
    ingest_file(store, report_data.write_jsonl(tmp_path / "spread.jsonl", rows))
    wire_id = store.query("SELECT id FROM entries WHERE guid = 'w'")[0]["id"]
    return story(store, wire_id)


def _render(svg: str, tmp_path: Path) -> Image.Image:
    """The picture drawn by rsvg-convert on a canvas MARGIN pixels larger on every side (transparent)."""
    tool = shutil.which("rsvg-convert")
    if tool is None:
        pytest.skip("rsvg-convert is not installed (Debian: apt-get install librsvg2-bin)")
    root = ET.fromstring(svg)
    w, h = int(root.get("width") or 0), int(root.get("height") or 0)
    head = f'width="{w}" height="{h}" viewBox="0 0 {w} {h}"'
    assert svg.count(head) == 1
    wide = svg.replace(head, f'width="{w + 2 * MARGIN}" height="{h + 2 * MARGIN}" '
                             f'viewBox="{-MARGIN} {-MARGIN} {w + 2 * MARGIN} {h + 2 * MARGIN}"')
    path = tmp_path / "wide.svg"
    path.write_text(wide, encoding="utf-8")
    png = subprocess.run([tool, str(path)], capture_output=True, check=True, timeout=60).stdout
    return Image.open(io.BytesIO(png)).convert("RGBA")


def _ink_outside(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The box of everything drawn outside the picture's own rectangle (None: nothing)."""
    alpha = image.getchannel("A")
    w, h = image.width - 2 * MARGIN, image.height - 2 * MARGIN
    alpha.paste(0, (MARGIN, MARGIN, MARGIN + w, MARGIN + h))
    return alpha.getbbox()


def _ink_in(image: Image.Image, box: tuple[int, int, int, int]) -> bool:
    """Something darker than the white background is drawn in ``box`` (picture coordinates)."""
    x0, y0, x1, y1 = box
    region = image.crop((MARGIN + x0, MARGIN + y0, MARGIN + x1, MARGIN + y1)).convert("L")
    return region.getextrema()[0] < 128


def test_the_check_sees_text_leaving_the_picture(tmp_path: Path) -> None:
    """The renderer-based check itself: a title drawn from x=170 as it is, past the right edge."""
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="760" height="100" viewBox="0 0 760 100">'
           '<rect x="0" y="0" width="760" height="100" fill="#ffffff"/>'
           f'<text x="170" y="22" font-size="15" font-weight="bold">{LONG_TITLE}</text></svg>')
    outside = _ink_outside(_render(svg, tmp_path))
    assert outside is not None and outside[0] >= MARGIN + 760


@pytest.mark.parametrize("title,copies", [
    (LONG_TITLE, [("the-ledger", "Port Ellery approves the barrier"), ("courier", "Tidal barrier")]),
    (CJK_TITLE, [("xinhua-chinese-service-world-news-desk-feed", CJK_TITLE), ("nhk", JA_TITLE)]),
    (JA_TITLE, [("nhk-world", JA_TITLE), ("asahi", "処理水")]),
    ("W" * 200, [("MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM", "W" * 200)]),
])
def test_the_timeline_keeps_every_text_inside(store: Store, tmp_path: Path, title: str,
                                              copies: list[tuple[str, str]]) -> None:
    s = _spread(store, tmp_path, title, copies)
    assert len(s.copies) == len(copies)
    svg = story_svg(s)
    image = _render(svg, tmp_path)
    assert _ink_outside(image) is None
    root = ET.fromstring(svg)
    lines = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "title"]
    assert 1 <= len(lines) <= 2 and "".join("".join(lines).replace("…", "").split()) in "".join(title.split())
    assert _ink_in(image, (20, 8, 200, 28))  # the title is drawn
    legend = [g for g in root.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert len(legend) == 6
    height = int(root.get("height") or 0)
    assert _ink_in(image, (20, height - 30, 120, height - 4))  # the legend's last line too


def test_a_long_title_wraps_then_is_cut() -> None:
    lines = wrap_px(LONG_TITLE, 15, 720, 2, bold=True)
    assert len(lines) == 2 and lines[1].endswith("…")
    assert all(text_px(line, 15, bold=True) <= 720 for line in lines)
    assert LONG_TITLE.startswith(lines[0] + " ")  # broken at a space
    cjk = wrap_px(CJK_TITLE, 15, 720, 2, bold=True)
    assert len(cjk) == 2 and cjk[0] + cjk[1].removesuffix("…") == CJK_TITLE[:len(cjk[0] + cjk[1]) - 1]
    assert wrap_px("Short title", 15, 720, 2) == ["Short title"]
    assert fit_px("courier", 12, 150) == "courier"
    assert text_px(fit_px("x" * 80, 12, 150), 12) <= 150
