"""Entry HTML -> clean story text, with page furniture, relay boilerplate, datelines and credit lines set apart.

Page furniture (navigation, related lists, share buttons, ads, footers...) is left out by the
structure of the markup (``markup``); a whole page is reduced to its article first (``page``).
The boilerplate that relays and pages add as text is described by one table, ``BOILERPLATE``:
each row has a name (stored with the entry when it fires), a regular expression tried against
every paragraph, and what to do with a hit (drop the paragraph, drop it and the short lines that
follow, or keep it aside as an attribution). Add a row to teach relaywatch a new relay's footer.
Credits are found wherever a copy puts them (``credits``). Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from relaywatch.detect import credits as creditmod
from relaywatch.detect import page as pagemod
from relaywatch.detect.markup import BLOCK_TAGS, CAPTION_TAGS, MAX_LINKS, SKIP_TAGS, Walked, normalize, walk
from relaywatch.errors import RelaywatchError

__all__ = ["BLOCK_TAGS", "BOILERPLATE", "CAPTION_TAGS", "MAX_LINKS", "SKIP_TAGS", "CleanText", "Pattern", "TextError",
           "clean", "credits_name", "html_to_paragraphs", "normalize"]


class TextError(RelaywatchError):
    pass


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: re.Pattern[str]
    action: str  # "drop" | "drop-tail" (and following short lines) | "attribution" | "source"
    grouped: bool = False  # the name reported is that of the named group that matched ("app_promo": "app-promo")
    needs: tuple[str, ...] = ()  # the row is tried only on paragraphs holding one of these, lowered (an
    # unanchored case-insensitive search scans every position: a substring test first is 20x cheaper)


def _p(name: str, pattern: str, action: str = "drop", grouped: bool = False, needs: tuple[str, ...] = ()) -> Pattern:
    return Pattern(name, re.compile(pattern, re.I), action, grouped, needs)


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
    _p("blogspot-nav", r"^(?:(?:newer post\s*)?(?:older post\s*)?home$|subscribe to:\s*post comments)"),
    _p(
        "credit-line",
        r"^\(?(?:source|sources|credit|courtesy(?: of)?|originally published (?:at|on|by)|"
        r"quelle|fuente|fonte|bron|kilde|källa|lähde|źródło|zdroj|kaynak|источник|"
        r"来源|來源|出典|出处|출처|"
        r"this (?:story|article) (?:first )?appeared (?:at|on|in))\s*[:：]?\s*(?P<source>[^()]{1,80}?)\)?[.。]?$",
        "attribution",
    ),
    _p(  # one row, a group per kind (the group's name is reported): one search instead of three
        "attribution-line",
        r"^(?:(?P<reporting_line>\((?:reporting|writing|additional reporting|compiled|editing) by [^()]{1,200}\)\.?)|"
        r"(?P<copyright_line>(?:©|copyright\s*(?:©|\(c\))?\s*\d{4}|\(c\) ?\d{4}).{0,300}))$",
        "attribution", grouped=True,
    ),
    _p("rights-reserved", r"\ball rights reserved\b.{0,200}$", "attribution", needs=("reserved",)),
    _p(
        "read-full-story",
        r"^(?:read|see|continue reading|view)(?: the)? (?:full |original |rest of the |whole )?"
        r"(?:story|article|report|this)?\s*(?:at|on|from)\s+(?P<source>.{1,80}?)\.?$",
        "attribution",
    ),
    _p("continue-reading", r"^(?:continue reading|read more|keep reading|read the rest|see more|see also|"
                           r"read also|also read)\b.{0,80}$"),
    _p(
        "share-line",
        r"^(?:share(?: this)?(?: article| story| post)?\s*(?::|on\b)|like this\s*:|tweet\b|"
        r"email this|print this|share\s*$|like loading|click to share)",
    ),
    _p("like-loading", r"^(?:like loading\.*|loading\.\.\.)$"),
    _p("subscribe-line", r"^(?:[^.!?]{1,160}[.!?] )?(?:subscribe|sign up)\b.{0,160}"
                         r"\b(?:newsletters?|inbox|updates|feeds?|alerts?)\b.{0,60}$", needs=("subscribe", "sign up")),
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
        r"^\(?(?:photo|picture|image|file photo|pictured)(?: by| credit)?\s*:.{0,600}$"
        r"|\((?:photo|picture) by [^)]{1,120}\)\.?$",
        needs=("/", "photo", "picture", "image"),
    ),
    # page furniture as text: a group per kind (the group's name is reported, not the row's), in
    # this order; a kind that a sentence of the paragraph's own may come before is a row of its own,
    # tried only on paragraphs holding its words (its search runs along the whole paragraph)
    _p(
        "furniture-line",
        r"^(?:(?P<advertisement>(?:advertisements?|sponsored(?: content)?|ad|anzeige|publicit[ée]|publicidad|"
        r"pubblicit[àa]|реклама|إعلان|פרסומת|广告|廣告|광고)\s*[-:]?\s*(?:(?:scroll|continue reading) (?:down )?"
        r"(?:to continue|below)(?: reading)?|story continues below)?\s*|"
        r"(?:story|article) continues (?:below|after)\b.{0,30})|"
        r"(?P<app_promo>(?:(?:click|tap) here to )?(?:get|download|install|try) (?:our|the)\b.{0,40}?\bapps?\b"
        r".{0,100})|"
        r"(?P<follow_us>(?:follow|like|find|join) us\b.{0,30}\bon\b.{0,120}|"
        r"follow (?:@?[\w.'&-]+ ){0,6}on (?:twitter|x|facebook|instagram|linkedin|tiktok|youtube|telegram)\b.{0,80}))$",
        grouped=True,
    ),
    _p("furniture-click-here", r"^(?P<click_here>(?:.{1,240}?[.!?] )?click here\b[^.!?]{0,120}[.!?]?)$", grouped=True,
       needs=("click here",)),
    _p("furniture-editors-note", r"^(?P<editors_note>editor[’']?s[’']? note\s*[:.—–-].{0,400})$", grouped=True),
    _p(
        "furniture-comments",
        r"^(?P<comments_prompt>(?:.{1,240}?[.!?] )?(?:(?:tell us|let us know) what you think|(?:leave|post|add) a "
        r"comment|join the (?:conversation|discussion))\b[^.!?]{0,80}[.!?]?)$",
        grouped=True, needs=("what you think", " a comment", "join the "),
    ),
    _p(
        "furniture-cookies",
        r"^(?:(?P<cookie_notice>(?:we|this (?:web)?site|our (?:web)?site) uses? cookies\b.{0,400}|"
        r"by (?:continuing|using|browsing)\b.{0,120}\bcookies\b.{0,200}|"
        r"(?:accept|allow|reject) (?:all )?cookies\b.{0,60}|"
        r"cookie (?:policy|settings|preferences|consent)\s*)|"
        r"(?P<editor_line>\[?(?:责任编辑|責任編輯|编辑|編輯)\s*:\s*\S{1,20}\]?))$",
        grouped=True,
    ),
    _p("tags-line", r"^(?:tags|filed under|categories|posted in)\s*:.{0,300}$"),
)

TAIL_LINE_WORDS = 12  # a "drop-tail" pattern also drops the short lines that follow it

DATELINE = re.compile(
    r"^(?P<dateline>(?:[A-Z\u00c0-\u024f][\w\u00c0-\u024f .,'’/-]{0,80}?\s*)?"
    r"\((?P<agency>[A-Za-z][\w .&'-]{0,40}?)\)\s*[-–—]+)\s*"
)
LEAD_PARAS = 3  # a dateline or an agency's lead is looked for in this many first paragraphs
SHORT_CREDIT = re.compile(r"^\(?[A-Z][\w.&'-]*(?: [A-Z][\w.&'-]*){0,3}\)?\.?$")
# rows of the table that also find credits in the lines of left-out headers and footers
_HELD_ROWS = ("credit-line", "attribution-line", "rights-reserved")


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


def html_to_paragraphs(markup: str) -> tuple[list[str], bool]:
    """HTML (or plain text) -> paragraphs, and whether a caption element was dropped."""
    walked = walk(markup)
    return walked.paras, walked.caption


def clean(markup: str | None, extra_patterns: tuple[Pattern, ...] = ()) -> CleanText:
    """The story text of an entry's HTML (or of a whole page's article), with furniture,
    boilerplate, dateline and credit lines set apart."""
    if not markup:
        return CleanText("")
    walked, _ = pagemod.paragraphs(markup)
    fired: list[str] = (["figcaption"] if walked.caption else []) + walked.furniture
    credits: list[str] = []
    sources: list[str] = []
    kept = _sift(walked.paras, BOILERPLATE + extra_patterns if extra_patterns else BOILERPLATE, fired, credits, sources)
    dateline = _ends(kept, fired, credits)
    if walked.held:
        _held_credits(walked, credits)
    return CleanText("\n\n".join(kept), dateline, tuple(dict.fromkeys(credits)), tuple(sources), tuple(fired),
                     tuple(walked.links))


def _anchored(regex: re.Pattern[str]) -> bool:
    """Whether a row matches only at a paragraph's start: its pattern opens with "^" and has no
    other alternative beside it (no "|" outside brackets and parentheses); compiled with re.I alone."""
    pattern, depth, i = regex.pattern, 0, 0
    if not pattern.startswith("^") or regex.flags & ~re.UNICODE != re.I:
        return False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 1
        elif ch == "[":  # a class: to its closing bracket (one right after "[" or "[^" is a character)
            i += 2 if pattern.startswith("[^", i) else 1
            i += pattern[i] == "]"
            while pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == "|" and depth == 0:
            return False
        i += 1
    return True


_GROUP_NAME = re.compile(r"\(\?P<\w+>")


@lru_cache(maxsize=16)
def _split(patterns: tuple[Pattern, ...]) -> tuple[re.Pattern[str] | None, tuple[Pattern, ...]]:
    """One pattern that matches a paragraph's start wherever a row anchored there (and tried on every
    paragraph: no ``needs``) could, their alternation with group names dropped; and the other rows:
    a paragraph it does not match is tried against those alone. Tried once at the paragraph's start,
    it spares a paragraph ~18 rows' calls."""
    opening = [p for p in patterns if not p.needs and _anchored(p.regex)]  # (a row with needs may search far)
    if not opening:
        return None, patterns
    return (re.compile("|".join("(?:" + _GROUP_NAME.sub("(?:", p.regex.pattern) + ")" for p in opening), re.I),
            tuple(p for p in patterns if p not in opening))


_DEFAULT_SPLIT = _split(BOILERPLATE)  # (a table's hash hashes each row's compiled pattern: not a call)


def _sift(paras: list[str], patterns: tuple[Pattern, ...], fired: list[str], credits: list[str],
          sources: list[str]) -> list[str]:
    """The paragraphs that no row of the table takes; what the rows took goes to the other lists."""
    kept: list[str] = []
    tail = False
    opening, loose = _DEFAULT_SPLIT if patterns is BOILERPLATE else _split(patterns)
    for para in paras:
        words = len(para.split())
        hit = None
        if words <= 80:  # (one regex joining all patterns is 3x slower: anchors no longer help)
            low = para.lower()
            for pat in (patterns if opening is None or opening.match(para) else loose):
                if pat.needs and not any(n in low for n in pat.needs):
                    continue
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
        name = m.lastgroup.replace("_", "-") if pat.grouped and m.lastgroup else pat.name
        if name not in fired:
            fired.append(name)
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
    return kept


def _ends(kept: list[str], fired: list[str], credits: list[str]) -> str:
    """Set apart (in place) the credits wherever the page put them: at the end of a paragraph
    ("... the ministry said. Source: Reuters", "... 。(来源:新华社)"), as a line of their own ("By
    Reuters staff", a lone "Reuters" or "(AP)"), in the dateline or the lead of one of the first
    paragraphs (an intro or a caption may come first); returns the dateline, if any."""
    for idx in range(len(kept) - 1, -1, -1):
        rest, credit = creditmod.trailing(kept[idx])
        if credit:
            kept[idx] = rest
            credits.append(credit)
            fired.append("credit-trailing")
    for idx in range(len(kept) - 1, -1, -1):
        line = kept[idx]
        at_end = idx in (0, len(kept) - 1)
        if len(kept) > 1 and (creditmod.byline(line) or creditmod.agency_line(line)
                              or (at_end and SHORT_CREDIT.match(line))):
            credits.append(kept.pop(idx))
            fired.append("credit-name-line")
    for idx in range(min(LEAD_PARAS, len(kept))):
        dateline = _dateline(kept, idx, fired, credits)
        if dateline is not None:
            return dateline
    return ""


def _dateline(kept: list[str], idx: int, fired: list[str], credits: list[str]) -> str | None:
    """The dateline or agency lead of paragraph ``idx``, set apart (None: it has none)."""
    para = kept[idx]
    m = DATELINE.match(para)
    if m and len(m.group("dateline")) <= 90:
        credits.append(f"({m.group('agency').strip()})")
        _set_para(kept, idx, para[m.end():].strip())
        fired.append("dateline")
        return m.group("dateline").strip()
    led = creditmod.lead(para)  # "Reuters - The ministry said", "新华社北京5月3日电"
    if led:
        credits.append(led[0])
        _set_para(kept, idx, led[1])
        fired.append("dateline")
        return para[: len(para) - len(led[1])].strip()
    return None


def _set_para(kept: list[str], idx: int, rest: str) -> None:
    kept[idx:idx + 1] = [rest] if rest else []


def _held_credits(walked: Walked, credits: list[str]) -> None:
    """Credit lines among the lines of left-out headers and footers (and of a page's walk)."""
    rows = [p for p in BOILERPLATE if p.name in _HELD_ROWS]
    for line in walked.held:
        if creditmod.byline(line) or any(p.regex.search(line) for p in rows):
            credits.append(line)


def credits_name(clean_text: CleanText, names: tuple[str, ...] | list[str]) -> bool:
    """Whether the copy explicitly attributes its story to one of ``names`` (or another name of
    the same agency: 新华网 for 新华社).

    Only attribution lines, bylines, the dateline's agency and relay footers count: an incidental
    mention inside the story ("a spokesman told Reuters") or a photo credit does not.
    """
    return creditmod.names_credited(clean_text.credits + clean_text.sources, names)
