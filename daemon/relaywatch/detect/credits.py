"""Credits wherever a copy puts them: a line of its own ("Source: Reuters"), the end of the last
paragraph ("... the ministry said. Source: Reuters", "(Reporting by ...)", "。（来源：新华社）"), a
byline at the top or bottom ("By Reuters staff", "By AP"), a lead ("Reuters - The ministry said")
or a dateline ("BEIRUT (Reuters) -", "新华社北京5月3日电"); and whether they name an outlet.

Text reaching here is normalised (NFKC: full-width "（：）" are "(:)", dashes are "-"). An outlet's
name matches as a whole word where words have boundaries; Chinese, Japanese and Korean names
match anywhere in a credit (those scripts put no spaces between words). A few agencies go by
several names (新华社, 新华网, Xinhua): crediting one credits them all. Pure: no I/O.
"""

from __future__ import annotations

import re
from functools import lru_cache

# names one agency goes by: a credit to any is a credit to all (case-insensitive)
ALIASES: tuple[tuple[str, ...], ...] = (
    ("Reuters", "路透社", "路透"),
    ("AP", "Associated Press", "美联社", "美聯社"),
    ("AFP", "Agence France-Presse", "Agence France Presse", "法新社"),
    ("Xinhua", "Xinhuanet", "Xinhua News Agency", "新华社", "新華社", "新华网", "新華網", "新华通讯社"),
    ("China News Service", "中新社", "中新网", "中国新闻网"),
    ("Kyodo", "Kyodo News", "共同社", "共同通信"),
    ("Yonhap", "韩联社", "연합뉴스"),
)
_ALIAS_OF = {n.lower(): group for group in ALIASES for n in group}
AGENCIES = (
    "Reuters",
    "The Associated Press",
    "Associated Press",
    "AP",
    "AFP",
    "Xinhua",
    "Bloomberg",
    "UPI",
    "dpa",
    "EFE",
    "ANSA",
    "Kyodo",
    "Yonhap",
    "PTI",
    "IANS",
    "ANI",
    "TASS",
    "CNA",
    "Anadolu",
    "Bernama",
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")

_CREDIT_WORDS = (
    r"source|sources|credit|courtesy(?: of)?|quelle|fuente|fonte|bron|kilde|källa|lähde|źródło|zdroj|"
    r"kaynak|источник|المصدر|מקור|来源|來源|出典|出处|出處|출처"
)
_BY_WORDS = r"reporting|writing|additional reporting|compiled|editing|reported|written|story"
# a credit that ends the last paragraph (after its last sentence)
TRAILING = re.compile(
    rf"(?:(?<=[.!?。！？\"')\]])\s*|\s+)(?P<credit>\(?(?:{_CREDIT_WORDS})\s*:\s*[^():\n]{{1,60}}?\)?|"
    rf"\((?:{_BY_WORDS}) by [^()]{{1,200}}\))[.。]?$",
    re.I,
)
# "... the ministry said. - Reuters", "... said. (Reuters)", "... said. Reporting by Reuters."
TRAILING_NAME = re.compile(r"(?<=[.!?\"')\]])\s+(?:-{1,3}\s*|\()"
                           r"(?P<credit>[A-Z][\w.&'-]*(?: [A-Z][\w.&'-]*){0,3})\)?\.?$")
TRAILING_BY = re.compile(rf"(?<=[.!?\"')\]])\s+(?P<credit>(?:{_BY_WORDS}) by [^().!?]{{1,100}})\.?$", re.I)
BYLINE = re.compile(r"^(?:by|By|BY)\s+(?P<names>\S.{0,100}?)\.?$")
_BYLINE_LOWER = frozenset(
    [
        "and",
        "in",
        "of",
        "the",
        "for",
        "staff",
        "reporter",
        "reporters",
        "writer",
        "writers",
        "wire",
        "service",
        "news",
        "desk",
        "correspondent",
        "correspondents",
        "from",
        "with",
    ]
)
_LEAD_NAMES = "|".join(re.escape(n) for a in AGENCIES for n in {a, a.upper()})  # "Reuters", "REUTERS"
LEAD = re.compile(rf"^(?P<agency>{_LEAD_NAMES}) ?(?:-{{1,3}}|:) ?(?=\S)")
# "MERIDIAN WIRE - The ministry said": a lead in capitals names the agency or the place (a credit
# line only if it names the original's outlet)
CAPS_LEAD = re.compile(r"^(?P<agency>[A-Z][A-Z&.'-]+(?: [A-Z][A-Z&.'-]+){0,3}) ?-{1,3} ?(?=\S)")
CJK_DATELINE = re.compile(
    r"^(?P<agency>新华社|新華社|中新社|中新网|中新網)[^\s,.;:。，]{0,24}?[电電]"
    r"(?:\s*\([^()]{0,40}\))?\s*"
)


AGENCY_LINE = re.compile(
    rf"^\(?(?:{'|'.join(re.escape(n) for n in sorted(set(AGENCIES) | set(_ALIAS_OF), key=len, reverse=True))})\)?"
    r"(?:\s+(?:staff|reporter|reporters|writer|writers|wire|service|news|desk|correspondent|report))*\.?$",
    re.I,
)


def trailing(para: str) -> tuple[str, str | None]:
    """``para`` without a credit at its end, and that credit (None: there is none)."""
    tail = para[-260:]
    m = None
    if ":" in para[-75:] or para.rstrip(".。 ").endswith(")"):
        m = TRAILING.search(tail)
    if m is None and ("-" in para[-60:] or para.rstrip(". ").endswith(")")):
        m = TRAILING_NAME.search(tail)
    if m is None and " by " in para[-130:].lower():
        m = TRAILING_BY.search(tail)
    if not m:
        return para, None
    rest = para[: len(para) - len(tail) + m.start()].rstrip()
    return (rest, m.group("credit")) if rest else (para, None)


def byline(para: str) -> str | None:
    """The names of a byline ("By Reuters staff", "By AP"), or None."""
    m = BYLINE.match(para)
    if not m:
        return None
    words = m.group("names").replace(",", " ").split()
    if not words or len(words) > 10 or not (words[0][0].isupper() or _CJK.match(words[0])):
        return None
    if all(w[0].isupper() or w.lower() in _BYLINE_LOWER or w == "&" for w in words):
        return para
    return None


def lead(para: str) -> tuple[str, str] | None:
    """(the agency, the rest) of a paragraph led by an agency's name ("Reuters - The ministry..."),
    or of a Chinese agency dateline ("新华社北京5月3日电（记者 ...）"), else None."""
    head = para[:40]
    if not ("-" in head or ":" in head or "电" in head or "電" in head):
        return None
    m = LEAD.match(para) or CAPS_LEAD.match(para) or CJK_DATELINE.match(para)
    if not m:
        return None
    return m.group("agency"), para[m.end() :].strip()


def agency_line(para: str) -> bool:
    """Whether a paragraph is only an agency's name ("Reuters", "(AP)", "AFP."): a credit line
    wherever it stands."""
    return len(para) <= 60 and AGENCY_LINE.match(para.strip()) is not None


def names_credited(lines: tuple[str, ...] | list[str], names: tuple[str, ...] | list[str]) -> bool:
    """Whether any of ``lines`` (credit lines) names one of ``names`` or another name of the same agency."""
    if not lines:
        return False
    for name in names:
        for alias in _ALIAS_OF.get(name.lower(), (name,)):
            rx = name_pattern(alias)
            if any(rx.search(line) for line in lines):
                return True
    return False


@lru_cache(maxsize=8192)
def name_pattern(name: str) -> re.Pattern[str]:
    """A credit name as a whole word; no boundary is asked for beside a CJK character (re's own
    cache holds 512 patterns: fewer than a daemon's feeds)."""
    name = name.strip()
    before = "" if not name or _CJK.match(name[0]) else r"(?<!\w)"
    after = "" if not name or _CJK.match(name[-1]) else r"(?!\w)"
    return re.compile(rf"{before}{re.escape(name)}{after}", re.I)
