"""HTML -> paragraphs, with page furniture (navigation, headers, footers, related lists, share
buttons, ads, cookie banners, comments, captions) left out by the structure of the markup.

Furniture is known by its element (nav, header, footer, aside, form, menu), its ARIA role
(navigation, banner, contentinfo, complementary, search, menu) or the words of its class and id
("related-posts", "social_share", "ad-slot"; the words split on "-", "_" and spaces, so that "ad"
is a whole word and "header", "shadow" or "read" are not "ad"). A list whose items are mostly
links (other stories' headlines) is furniture too. The names of what was left out are reported,
as the boilerplate table's names are. Pure: no I/O.
"""

from __future__ import annotations

import html as htmlmod
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree
from lxml import html as lxml_html

BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
SKIP_TAGS = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "svg",
        "head",
        "select",
        "button",
        "object",
        "embed",
        "applet",
        "title",
        "meta",
        "link",
        "input",
        "textarea",
        "label",
    ]
)
CAPTION_TAGS = frozenset(["figcaption"])
# elements that are one paragraph (or one line) of their parent
PARAGRAPH_TAGS = frozenset(["p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "blockquote", "pre", "td", "th",
                            "br", "hr", "address", "summary"])
FURNITURE_TAGS = {
    "nav": "nav",
    "header": "header",
    "footer": "footer",
    "aside": "aside",
    "form": "form",
    "menu": "menu",
    "dialog": "popup",
}
FURNITURE_ROLES = {
    "navigation": "nav",
    "banner": "header",
    "contentinfo": "footer",
    "complementary": "aside",
    "search": "form",
    "menu": "menu",
    "menubar": "menu",
    "dialog": "popup",
    "alertdialog": "popup",
}
# class/id words that mark furniture, and the name reported for them
FURNITURE_WORDS = {
    **dict.fromkeys(
        ["related", "recirc", "recirculation", "recommended", "trending", "outbrain", "taboola"], "related"
    ),
    **dict.fromkeys(["share", "sharing", "sharebar", "social", "sociallinks"], "share"),
    **dict.fromkeys(["promo", "promotion", "newsletter", "subscribe", "subscription", "signup", "paywall"], "promo"),
    **dict.fromkeys(["cookie", "cookies", "consent", "gdpr"], "cookie"),
    **dict.fromkeys(["comment", "comments", "disqus"], "comments"),
    **dict.fromkeys(
        ["ad", "ads", "adslot", "adunit", "advert", "adverts", "advertisement", "advertising", "sponsored", "dfp"], "ad"
    ),
    **dict.fromkeys(["breadcrumb", "breadcrumbs"], "nav"),
    **dict.fromkeys(["sidebar", "widget", "widgets"], "aside"),
    **dict.fromkeys(["footer"], "footer"),
    **dict.fromkeys(["header", "masthead"], "header"),
    **dict.fromkeys(["nav", "navbar", "navigation", "menu", "toolbar"], "nav"),
    **dict.fromkeys(["popup", "modal", "overlay", "tooltip", "popover", "rollover", "hovercard"], "popup"),
    **dict.fromkeys(["caption", "wp-caption"], "figcaption"),
}
# a class that states a container's layout ("has-sidebar", "with-header", "no-comments") is no furniture
_LAYOUT_WORDS = frozenset(["has", "with", "no", "is", "show", "hide", "without", "hidden"])
_NEVER_FURNITURE = frozenset(["html", "body", "main", "article"])
# header/footer subtrees are left out, but a credit line there ("By Reuters staff", "Source: AP") counts
CREDIT_HOLDERS = frozenset(["header", "footer"])
_SPLIT = re.compile(r"[\s_\-]+")
LINK_LIST_SHARE = 0.6  # a list whose items are links for at least this share of their text...
LINK_LIST_ITEMS = 2  # ...and that has at least this many items is a list of other stories
MAX_LINKS = 200  # hrefs kept per entry

_SPACE = r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]"  # spaces (a line break is kept)
# spaces to collapse into one: a run of two or more, or one that is no plain space. Only those are
# replaced (not every space between two words), and the pattern opens with one class of
# characters, so re skips to the next space: 9.6 -> 3.3 µs a paragraph of the throughput set
_WS = re.compile(rf"{_SPACE}(?:{_SPACE}+|(?<! ))")
_BREAK = "\x00"
_BLANK_LINE = re.compile(r"\n\s*\n")
_TRANSLATE = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys("\u2010\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63", "-"),
        **dict.fromkeys("\u00ad\u200b\u200c\u200d\u2060\ufeff\u200e\u200f", None),
        **{c: " " for c in range(0, 32) if c not in (10,)},
    }
)


def normalize(text: str) -> str:
    """NFKC, entities left in the text decoded, unified quotes and dashes, no soft hyphens, zero-width
    or control characters, collapsed spaces: differences that are never an edit."""
    if "&" in text:
        text = htmlmod.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_TRANSLATE)
    return _WS.sub(" ", text).strip()


@dataclass
class Walked:
    paras: list[str]
    caption: bool = False
    links: list[str] = field(default_factory=list)
    furniture: list[str] = field(default_factory=list)  # names of the furniture left out
    held: list[str] = field(default_factory=list)  # lines of left-out headers and footers (credits only)
    holders: list[str] = field(default_factory=list)  # with ``holders=True``: what holds each paragraph
    left_out: set[str] = field(default_factory=set)  # with ``holders=True``: the texts of the furniture left out


@lru_cache(maxsize=4096)
def furniture_word(names: str) -> str | None:
    """The furniture name that a class or id attribute states, or None."""
    for cls in names.lower().split():
        if cls in FURNITURE_WORDS:
            return FURNITURE_WORDS[cls]
        words = _SPLIT.split(cls)
        if words[0] in _LAYOUT_WORDS:
            continue
        for word in words:
            if word in FURNITURE_WORDS:
                return FURNITURE_WORDS[word]
    return None


def furniture(el: etree._Element, tag: str) -> str | None:
    """Why ``el`` (a tag ``tag``) is page furniture, or None."""
    if tag in FURNITURE_TAGS:
        return FURNITURE_TAGS[tag]
    if tag in _NEVER_FURNITURE:
        return None
    attrib = el.attrib
    if not attrib:
        return _link_list(el) if tag in ("ul", "ol") else None
    role = attrib.get("role")
    if role and role.lower() in FURNITURE_ROLES:
        return FURNITURE_ROLES[role.lower()]
    for key in ("class", "id"):
        value = attrib.get(key)
        if value:
            name = furniture_word(value)
            if name:
                return name
    if attrib.get("aria-hidden") == "true" or "hidden" in attrib:
        return "hidden"
    return _link_list(el) if tag in ("ul", "ol") else None


def _link_list(el: etree._Element) -> str | None:
    """ "link-list" when the list's items are mostly links (headlines of other stories)."""
    items = linked = 0
    for li in el.iterchildren("li", "LI"):
        text = len("".join(li.itertext()).strip())
        if not text:
            continue
        items += 1
        in_links = sum(len("".join(a.itertext()).strip()) for a in li.iter("a", "A"))
        linked += in_links >= LINK_LIST_SHARE * text
    return "link-list" if items >= LINK_LIST_ITEMS and linked >= LINK_LIST_SHARE * items else None


def _parse(markup: str) -> etree._Element | None:
    try:
        return lxml_html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        try:
            return lxml_html.document_fromstring(markup)
        except (etree.ParserError, ValueError):
            return None


def walk(markup: str, structural: bool = True, holders: bool = False) -> Walked:
    """Paragraphs of HTML (or plain text), without furniture when ``structural``; with ``holders``,
    also what holds each paragraph (``holder``)."""
    if "<" not in markup and "&" not in markup:
        paras = [p for p in (normalize(x) for x in re.split(r"\n\s*\n", markup)) if p]
        return Walked(paras, holders=[""] * len(paras) if holders else [])
    root = _parse(markup)
    if root is None:
        return Walked([])
    out = Walked([])
    parts: list[str] = []
    opened: list[etree._Element] = []  # the block elements the walk is in
    starts: list[str] = [""]  # with ``holders``: the holder of the text after each break
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if event == "start":
            if not tag or tag in SKIP_TAGS:
                walker.skip_subtree()
                continue
            name = "figcaption" if tag in CAPTION_TAGS else furniture(el, tag) if structural else None
            if name:
                _leave_out(out, el, name, holders)
                walker.skip_subtree()
                continue
            if tag in BLOCK_TAGS:
                parts.append(_BREAK)
                if holders:
                    opened.append(el)
                    starts.append(holder(opened))
            elif tag == "a" and len(out.links) < MAX_LINKS and el.get("href"):
                out.links.append(el.get("href").strip())
            if el.text:
                parts.append(el.text)
        else:
            if tag in BLOCK_TAGS:
                parts.append(_BREAK)
                if holders:
                    if opened and opened[-1] is el:
                        opened.pop()
                    starts.append(holder(opened))
            if el.tail and el is not root:
                parts.append(el.tail)
    _paragraphs(out, "".join(parts).split(_BREAK), starts if holders else None)
    return out


def _paragraphs(out: Walked, segments: list[str], starts: list[str] | None) -> None:
    """The walk's text between breaks -> its paragraphs (and, given ``starts``, their holders)."""
    for n, segment in enumerate(segments):
        if not segment or segment.isspace():
            continue  # between two block elements (normalized, it would be no paragraph)
        for para in (normalize(x) for x in _BLANK_LINE.split(segment)):
            if para:
                out.paras.append(para)
                if starts is not None:
                    out.holders.append(starts[n])


def holder(opened: list[etree._Element]) -> str:
    """What holds a paragraph, given the block elements it is in: the innermost that is no element
    of a single paragraph (a ``<p>``'s parent; a ``<div>`` whose text is split by ``<br>``: itself),
    as its tag and class, so that the paragraphs of one story's blocks have the same holder."""
    for el in reversed(opened):
        if el.tag not in PARAGRAPH_TAGS:
            return f"{el.tag} {el.get('class', '')}"
    return ""


def _leave_out(out: Walked, el: etree._Element, name: str, texts: bool = False) -> None:
    """Note furniture left out (``texts``: its lines too)."""
    if texts:
        _left_out_texts(out, el)
    if name == "figcaption":
        out.caption = True
    elif name not in out.furniture:
        out.furniture.append(name)
    if name in CREDIT_HOLDERS:
        for n, block in enumerate(el.iter("p", "div", "span", "address")):
            if n >= 200 or len(out.held) >= 50:
                break
            line = normalize("".join(block.itertext()))
            if 0 < len(line) <= 120:
                out.held.append(line)


def _left_out_texts(out: Walked, el: etree._Element) -> None:
    """The lines of a left-out element (a caption, a promo box), split as the walk splits the story's:
    in one pass over it, whatever its depth."""
    parts: list[str] = []
    walker = etree.iterwalk(el, events=("start", "end"))
    for event, node in walker:
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if event == "start":
            if not tag or tag in SKIP_TAGS:
                walker.skip_subtree()
                continue
            if tag in BLOCK_TAGS:
                parts.append(_BREAK)
            if node.text:
                parts.append(node.text)
        else:
            if tag in BLOCK_TAGS:
                parts.append(_BREAK)
            if node.tail and node is not el:
                parts.append(node.tail)
    out.left_out.update(line for line in (normalize(x) for x in "".join(parts).split(_BREAK)) if line)
