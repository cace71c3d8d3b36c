"""Entry HTML -> clean story text, with relay boilerplate, datelines and credit lines set apart.

The boilerplate that relays add is described by one table, ``BOILERPLATE``: each row has a name
(stored with the entry when it fires), a regular expression tried against every paragraph, and
what to do with a hit (drop the paragraph, drop it and the short lines that follow, or keep it
aside as an attribution). Add a row to teach relaywatch a new relay's footer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from lxml import etree
from lxml import html as lxml_html

from relaywatch.errors import RelaywatchError


class TextError(RelaywatchError):
    pass


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
    ["script", "style", "noscript", "template", "iframe", "svg", "head", "select", "button", "object", "embed",
     "applet"]
)
CAPTION_TAGS = frozenset(["figcaption"])


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: re.Pattern[str]
    action: str  # "drop" | "drop-tail" (and following short lines) | "attribution" | "source"


def _p(name: str, pattern: str, action: str = "drop") -> Pattern:
    return Pattern(name, re.compile(pattern, re.I), action)


# Photo agencies in "AGENCY/Photographer" credits. The credit pattern starts at the slash (a
# literal lets the regex engine skip ahead: ~20x faster than starting at the agency's name), and
# looks behind it for the agency, with or without one space (text is normalised: single spaces).
_AGENCIES = ("REUTERS", "AP", "AFP", "EPA", "Getty Images", "Bloomberg", "XINHUA")
_AGENCY_BEFORE_SLASH = "|".join(rf"(?<=\b{re.escape(a)}{sp}/)" for a in _AGENCIES for sp in ("", " "))
_AGENCY_AT_END = re.compile(rf"\b(?:{'|'.join(re.escape(a) for a in _AGENCIES)}) ?$", re.I)

# One table, tried in order against each paragraph. A named group "source" captures the outlet
# that a relay footer names (used to find which copy a relay took its text from).
BOILERPLATE: tuple[Pattern, ...] = (
    _p("wordpress-appeared-first", r"^the post\b.{0,400}?\bappeared first on (?P<source>.{1,120}?)\.?$", "source"),
    _p("ifttt-from", r"^from (?P<source>.{1,120}?)\s+(?:https?://)?ift\.tt/\S*(?:\s+via\s+ifttt)?\.?$", "source"),
    _p("ifttt-via", r"^via ifttt\.?$"),
    _p("blogspot-no-comments", r"^(?:no comments|\d+ comments?)\s*:?\s*(?:post a comment)?\.?$", "drop-tail"),
    _p("blogspot-post-a-comment", r"^post a comment\.?$", "drop-tail"),
    _p("blogspot-nav", r"^(?:newer post\s*)?(?:older post\s*)?home$|^subscribe to:\s*post comments"),
    _p(
        "credit-line",
        r"^(?:source|sources|credit|courtesy(?: of)?|originally published (?:at|on|by)|"
        r"quelle|fuente|fonte|bron|kilde|källa|lähde|źródło|zdroj|kaynak|источник|"
        r"来源|來源|出典|出处|출처|"
        r"this (?:story|article) (?:first )?appeared (?:at|on|in))\s*[:：]?\s*(?P<source>.{1,80}?)\.?$",
        "attribution",
    ),
    _p(
        "read-full-story",
        r"^(?:read|see|continue reading|view)(?: the)? (?:full |original |rest of the |whole )?"
        r"(?:story|article|report|this)?\s*(?:at|on|from)\s+(?P<source>.{1,80}?)\.?$",
        "attribution",
    ),
    _p("continue-reading", r"^(?:continue reading|read more|keep reading|read the rest)\b.{0,80}$"),
    _p(
        "share-line",
        r"^(?:share(?: this)?(?: article| story| post)?\s*(?::|on\b)|like this\s*:|tweet\b|"
        r"email this|print this|share\s*$|like loading|click to share)",
    ),
    _p("like-loading", r"^like loading\.*$|^loading\.\.\.$"),
    _p("subscribe-line", r"^(?:subscribe|sign up)\b.{0,160}\b(?:newsletter|inbox|updates|feed|alerts?)\b.{0,60}$"),
    _p(
        "related-block",
        r"^(?:related|related (?:posts|articles|stories|news)|you may also like|"
        r"more from .{1,40}|recommended|read next)\s*:?$",
        "drop-tail",
    ),
    _p(
        "photo-credit",  # "REUTERS/Name", "(Photo by Name)" at the end; "Photo: ..." lines
        rf"(?:/(?:{_AGENCY_BEFORE_SLASH})\s*[A-Z][\w.'’\- ]{{1,60}}"
        r"(?:\s*/\s*(?:File(?: Photo)?|Pool))?\s*\)?\.?$)|"
        r"^\(?(?:photo|picture|image|file photo|pictured)(?: by| credit)?\s*:.{0,200}$"
        r"|\((?:photo|picture) by [^)]{1,120}\)\.?$",
    ),
    _p("advertisement", r"^(?:advertisement|sponsored content|ad)\s*$"),
    _p("tags-line", r"^(?:tags|filed under|categories|posted in)\s*:.{0,300}$"),
)

MAX_LINKS = 200  # hrefs kept per entry
TAIL_LINE_WORDS = 12  # a "drop-tail" pattern also drops the short lines that follow it

DATELINE = re.compile(
    r"^(?P<dateline>(?:[A-Z\u00c0-\u024f][\w\u00c0-\u024f .,'’/-]{0,80}?\s*)?"
    r"\((?P<agency>[A-Za-z][\w .&'-]{0,40}?)\)\s*[-–—]+)\s*"
)
SHORT_CREDIT = re.compile(r"^\(?[A-Z][\w.&'-]*(?: [A-Z][\w.&'-]*){0,3}\)?\.?$")

_WS = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BREAK = "\x00"


@dataclass(frozen=True)
class CleanText:
    text: str  # the story: paragraphs joined by blank lines
    dateline: str = ""  # "BEIRUT (Reuters) -"
    credits: tuple[str, ...] = ()  # attribution lines and the dateline's agency
    sources: tuple[str, ...] = ()  # outlets named by relay footers ("appeared first on X")
    boilerplate: tuple[str, ...] = field(default=())  # names of the patterns that fired
    links: tuple[str, ...] = ()  # the hrefs of the entry (a relay's footer links the page it copied)

    @cached_property
    def words(self) -> int:
        """Words of the text (kept once counted, also through pickling to and from worker processes)."""
        return len(self.text.split())


def normalize(text: str) -> str:
    """NFKC, unified quotes and dashes, no control characters, collapsed spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_TRANSLATE)
    return _WS.sub(" ", text).strip()


_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00ad": None,
        "\u200e": None,
        "\u200f": None,
        **{c: " " for c in range(0, 32) if c not in (10,)},
    }
)


def html_to_paragraphs(markup: str) -> tuple[list[str], bool]:
    """HTML (or plain text) -> paragraphs, and whether a caption element was dropped."""
    paras, caption, _ = _walk(markup)
    return paras, caption


def _walk(markup: str) -> tuple[list[str], bool, list[str]]:
    """Paragraphs, whether a caption was dropped, and the links (href) of the markup."""
    if "<" not in markup and "&" not in markup:
        return [p for p in (normalize(x) for x in re.split(r"\n\s*\n|\r\n\s*\r\n", markup)) if p], False, []
    try:
        root = lxml_html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return [], False, []
    parts: list[str] = []
    links: list[str] = []
    caption = False
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if event == "start":
            if not tag or tag in SKIP_TAGS or tag in CAPTION_TAGS:
                caption = caption or tag in CAPTION_TAGS
                walker.skip_subtree()
                continue
            if tag in BLOCK_TAGS:
                parts.append(_BREAK)
            elif tag == "a" and len(links) < MAX_LINKS and el.get("href"):
                links.append(el.get("href").strip())
            if el.text:
                parts.append(el.text)
        else:
            if tag in BLOCK_TAGS:
                parts.append(_BREAK)
            if el.tail and el is not root:
                parts.append(el.tail)
    joined = "".join(parts)
    paras = [normalize(p) for p in re.split(r"\x00|\n\s*\n", joined)]
    return [p for p in paras if p], caption, links


def clean(markup: str | None, extra_patterns: tuple[Pattern, ...] = ()) -> CleanText:
    """The story text of an entry's HTML, with boilerplate, dateline and credit lines set apart."""
    if not markup:
        return CleanText("")
    paras, caption, links = _walk(markup)
    fired: list[str] = ["figcaption"] if caption else []
    credits: list[str] = []
    sources: list[str] = []
    kept: list[str] = []
    tail = False
    patterns = BOILERPLATE + extra_patterns
    for para in paras:
        words = len(para.split())
        hit = None
        if words <= 80:  # (one regex joining all patterns is 3x slower: anchors no longer help)
            for pat in patterns:
                m = pat.regex.search(para)
                if m:
                    hit = (pat, m)
                    break
        if hit is None:
            if tail and words <= TAIL_LINE_WORDS and not para.endswith((".", "!", "?", '"')):
                continue  # a link of a "Related" list, a comment-form line...
            tail = False
            kept.append(para)
            continue
        pat, m = hit
        if pat.name not in fired:
            fired.append(pat.name)
        if pat.action == "drop-tail":
            tail = True
        elif pat.action == "source":
            sources.append(m.group("source").strip())
        elif pat.action == "attribution":
            credits.append(para)
        if pat.name == "photo-credit" and m.start() > 0 and words > 40:
            # a long paragraph ending in a credit keeps its text (an "AGENCY/Name" match starts at
            # the slash: the agency before it goes too)
            text = para[: m.start()]
            kept.append((_AGENCY_AT_END.sub("", text) if m.group().startswith("/") else text).strip())
    # a lone name as first or last line ("Reuters", "(AP)") is a credit line
    for idx in (len(kept) - 1, 0):
        if 0 <= idx < len(kept) and len(kept) > 1 and SHORT_CREDIT.match(kept[idx]):
            credits.append(kept.pop(idx))
            fired.append("credit-name-line")
    dateline = ""
    if kept:
        m = DATELINE.match(kept[0])
        if m and len(m.group("dateline")) <= 90:
            dateline = m.group("dateline").strip()
            credits.append(f"({m.group('agency').strip()})")
            rest = kept[0][m.end() :].strip()
            kept[0:1] = [rest] if rest else []
            fired.append("dateline")
    return CleanText("\n\n".join(kept), dateline, tuple(credits), tuple(sources), tuple(fired), tuple(links))


def credits_name(clean_text: CleanText, names: tuple[str, ...] | list[str]) -> bool:
    """Whether the copy explicitly attributes its story to one of ``names``.

    Only attribution lines, the dateline's agency and relay footers count: an incidental mention
    inside the story ("a spokesman told Reuters") or a photo credit does not.
    """
    lines = clean_text.credits + clean_text.sources
    if not lines:
        return False
    for name in names:
        rx = _name_pattern(name)
        if any(rx.search(line) for line in lines):
            return True
    return False


@lru_cache(maxsize=8192)
def _name_pattern(name: str) -> re.Pattern[str]:
    """A credit name as a whole word (re's own cache holds 512 patterns: fewer than a daemon's feeds)."""
    return re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.I)
