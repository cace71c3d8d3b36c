"""Whole HTML pages: the article, not the page.

A feed entry's HTML is a few paragraphs: walked as it is (``markup.walk``), furniture left out by
structure. A whole document (``<html>``/``<body>``, or large markup of many blocks) holds much
more furniture than markup can name (titles, bylines, teasers, link farms), so its article is
taken out with trafilatura, whose main-content extraction (link density, text density and
known site layouts) does far better than a furniture-aware walk alone (``bench/pages.py`` prints
both). Tables are extracted too (an older site lays its whole article out in one; a story's own
table of figures is its text), as their cells' words.

The walk then corrects the extraction both ways: a paragraph trafilatura kept that the walk
found only inside furniture (a caption, a newsletter box, a list of other stories) is dropped
(``_kept``); a prose paragraph it left out in the same block as its own paragraphs (a story cut
into chunks around an inset, the text before a block's first ``<br>``) is taken back
(``_rejoin``). The caller then cleans those paragraphs as any others (boilerplate table, dateline,
credits). When trafilatura finds nothing, the structural walk is the fallback. Pure: no I/O.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from lxml import etree
from lxml import html as lxml_html

from relaywatch.detect.fingerprint import tokenize
from relaywatch.detect.markup import Walked, furniture, normalize, walk

log = logging.getLogger("relaywatch.detect.page")

_DOCUMENT = re.compile(r"<(?:html|body)[\s>]", re.I)
_BLOCK = re.compile(r"<(?:p|div|li|section|article|h[1-6])[\s>]", re.I)
LARGE = 50_000  # characters of markup beyond which many blocks make a page
MANY_BLOCKS = 150
HELD_CHARS = 160  # short paragraphs of the walk are looked at for credit lines
MAX_EXTRACT = 1_000_000  # characters of markup once its code is left out (``strip_code``): beyond,
# trafilatura takes seconds; the structural walk alone is used
_CODE = re.compile(r"<(?:(script|style)\b|!--)", re.I)
_CLOSE = {"script": re.compile(r"</script\s*>", re.I), "style": re.compile(r"</style\s*>", re.I)}
# a paragraph of the walk the extraction left out is taken back if it is a sentence of PROSE_TOKENS tokens
# or more, within GAP_LINES other lines of the extraction's, with at most SEEN_SHARE of its word 4-grams
# already taken
PROSE_TOKENS = 15
GAP_LINES = 2
SEEN_SHARE = 0.2
FURNITURE_SHARE = 0.3  # of the extraction's paragraphs found only in furniture: beyond, none is dropped
_SENTENCE_END = (".", "!", "?", '"', "'", ")", "\u3002", "\uff01", "\uff1f")
_TABLE_RULE = re.compile(r"^\|(?:\s*:?-+:?\s*\|)+$")  # "|---|---|" under a table's header row


def is_document(markup: str) -> bool:
    """Whether ``markup`` is a whole page rather than a feed entry's fragment."""
    if _DOCUMENT.search(markup, 0, 4096) or (len(markup) > 4096 and _DOCUMENT.search(markup)):
        return True
    return len(markup) > LARGE and len(_BLOCK.findall(markup)) >= MANY_BLOCKS


def extract(html: str | bytes | lxml_html.HtmlElement, url: str | None = None) -> str | None:
    """trafilatura's main text of a page (lines are paragraphs), or None. The settings relaywatch
    uses wherever it extracts an article (``poll.articles.extract_article`` too)."""
    import trafilatura  # imported here: it is slow to import and only whole pages need it

    try:
        text = trafilatura.extract(html, url=url, include_comments=False, include_tables=True,
                                   favor_precision=True, deduplicate=False)
    except Exception as e:  # trafilatura/lxml on hostile markup: treat as "no article"
        log.info("article extraction failed for %s: %s", url, e)
        return None
    return "\n".join(_table_rows(text.split("\n"))) if text else None


def _table_rows(lines: list[str]) -> list[str]:
    """trafilatura's lines with its table rows ("| Pos | Player | Plays |") as the cells' text and
    the rule under a header row left out: a table's words are the article's, its drawing is not."""
    out = []
    for line in lines:
        row = line.strip()
        if not (row.startswith("|") and row.endswith("|")):
            out.append(line)
        elif not _TABLE_RULE.match(row):
            out.append(" ".join(cell.strip() for cell in row[1:-1].split("|") if cell.strip()))
    return out


def _tree(bare: str) -> lxml_html.HtmlElement | None:
    """The page parsed, without the furniture inside its paragraphs (a name's hover card, an ad
    between two sentences): trafilatura keeps all the inline elements of a paragraph it keeps."""
    try:
        root = lxml_html.document_fromstring(bare)
    except (etree.ParserError, ValueError):
        return None
    for para in root.iter("p"):
        for el in list(para.iterdescendants()):
            if isinstance(el.tag, str) and el.attrib and furniture(el, el.tag.lower()):
                el.drop_tree()
    return root


def strip_code(markup: str) -> str:
    """``markup`` without its scripts, styles and comments: a large page is mostly inline code and
    data, so its size says little about the work of extracting its text. Linear in the markup's
    size whatever it holds (an unclosed script or comment runs to the end, as a browser reads it)."""
    out: list[str] = []
    pos = 0
    while (m := _CODE.search(markup, pos)) is not None:
        out.append(markup[pos:m.start()])
        if m.group(1):
            close = _CLOSE[m.group(1).lower()].search(markup, m.end())
            pos = close.end() if close else len(markup)
        else:
            end = markup.find("-->", m.end())
            pos = end + 3 if end >= 0 else len(markup)
    out.append(markup[pos:])
    return "".join(out)


def paragraphs(markup: str) -> tuple[Walked, bool]:
    """The paragraphs of ``markup`` and whether it was a whole page. For a page, ``held`` also
    carries the walk's short lines: a credit there counts even where the extraction left it out."""
    if not is_document(markup):
        return walk(markup), False
    bare = strip_code(markup)
    extracting = len(bare) <= MAX_EXTRACT
    walked = walk(markup, holders=extracting)  # (holders and left-out texts: only to correct an extraction)
    tree = _tree(bare) if extracting else None
    text = extract(bare if tree is None else tree) if extracting else None
    if not text:
        return walked, True
    paras = _rejoin(_kept([p for p in (normalize(line) for line in text.split("\n")) if p], walked), walked)
    held = walked.held + [p for p in walked.paras if len(p) <= HELD_CHARS]
    return Walked(paras, walked.caption, walked.links, walked.furniture + ["page"], held), True


def _prose(para: str) -> bool:
    """Whether a paragraph reads as a story's own: sentences, long enough to be no teaser or label."""
    return para.endswith(_SENTENCE_END) and len(tokenize(para)) >= PROSE_TOKENS


def _rejoin(paras: list[str], walked: Walked) -> list[str]:
    """The extraction's paragraphs with the walk's prose paragraphs it left out where they stand in
    the same block as its own (same holder: trafilatura keeps one block of a story cut into several,
    drops a paragraph beside an inset, or the text before a block's first ``<br>``): between two of
    its paragraphs, or carrying its first one back or its last one on (``GAP_LINES``); a paragraph
    whose words it already has is not taken twice."""
    where: dict[str, int] = {}
    for i, para in enumerate(walked.paras):
        where.setdefault(para, i)
    found = [where[p] for p in paras if p in where]
    if len(found) < 2:
        return paras
    kinds = {walked.holders[i] for i in found}
    seen = {g for p in paras for g in _grams(p)}

    def wanted(i: int) -> bool:
        w = walked.paras[i]
        if walked.holders[i] not in kinds or not _prose(w):
            return False
        grams = _grams(w)
        if len(grams & seen) > SEEN_SHARE * len(grams):
            return False
        seen.update(grams)
        return True

    out: list[str] = [walked.paras[i] for i in reversed(_run(range(found[0] - 1, -1, -1), wanted))]
    last = -1
    for para in paras:
        i = where.get(para, -1)
        if last >= 0 and i > last:
            out.extend(walked.paras[k] for k in range(last + 1, i) if wanted(k))
        out.append(para)
        last = max(last, i)
    return out + [walked.paras[i] for i in _run(range(last + 1, len(walked.paras)), wanted)]


def _run(indexes: range, wanted: Callable[[int], bool]) -> list[int]:
    """The wanted ones of ``indexes``, up to the first ``GAP_LINES`` + 1 unwanted in a row."""
    taken: list[int] = []
    gap = 0
    for i in indexes:
        if wanted(i):
            taken.append(i)
            gap = 0
        else:
            gap += 1
            if gap > GAP_LINES:
                break
    return taken


def _grams(text: str) -> set[tuple[str, ...]]:
    tokens = tokenize(text)
    return {tuple(tokens[i:i + 4]) for i in range(max(1, len(tokens) - 3))}


def _kept(paras: list[str], walked: Walked) -> list[str]:
    """The extraction's paragraphs without those the walk found only in furniture it left out (a
    caption, a promo box), unless that is much of them (then the walk mistook the story's block)."""
    if not walked.left_out:
        return paras
    left_out = {_key(p) for p in walked.left_out}
    story = f" {' '.join(_key(p) for p in walked.paras)} "
    only_there = [_key(p) in left_out and f" {_key(p)} " not in story for p in paras]
    if sum(only_there) > FURNITURE_SHARE * len(paras):
        return paras
    return [p for p, there in zip(paras, only_there, strict=True) if not there]


def _key(text: str) -> str:
    """A text as its words: the same whatever the spaces and punctuation around them."""
    return " ".join(tokenize(text))
