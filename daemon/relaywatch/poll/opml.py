"""OPML import and export: the feed list format that every feed reader reads and writes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from defusedxml import ElementTree as SafeET

from relaywatch.config import ROLES, check_name, check_url
from relaywatch.errors import RelaywatchError
from relaywatch.models import Feed


class OpmlError(RelaywatchError):
    exit_code = 2


@dataclass(frozen=True)
class OpmlFeed:
    name: str
    url: str
    role: str
    title: str


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:60] or "feed"


def read_opml(path: str | Path, default_role: str = "outlet") -> list[OpmlFeed]:
    """Every outline with an xmlUrl; names from the title (made unique), role from a category or
    a ``relaywatch:role`` attribute when present."""
    try:
        root = SafeET.parse(str(path)).getroot()
    except (OSError, SafeET.ParseError) as e:
        raise OpmlError(f"{path}: not a readable OPML file: {e}") from e
    except Exception as e:  # defusedxml refuses entities and DTDs
        raise OpmlError(f"{path}: refused: {type(e).__name__}") from e
    out: list[OpmlFeed] = []
    names: set[str] = set()
    for el in root.iter("outline"):
        url = el.get("xmlUrl") or el.get("xmlurl")
        if not url:
            continue
        try:
            check_url(url)
        except ValueError as e:
            raise OpmlError(f"{path}: {e}") from e
        title = el.get("title") or el.get("text") or url
        role = el.get("role") or el.get("{https://relaywatch.example/ns}role") or ""
        category = (el.get("category") or "").lower()
        if role not in ROLES:
            role = next((r for r in ROLES if r in category), default_role)
        base = slug(title)
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.add(check_name(name))
        out.append(OpmlFeed(name, url, role, title))
    return out


def write_opml(feeds: Iterable[Feed], title: str = "relaywatch feeds") -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             f"  <head><title>{_esc(title)}</title></head>", "  <body>"]
    for f in feeds:
        lines.append(f"    <outline type=\"rss\" text={quoteattr(f.title or f.name)} title={quoteattr(f.name)}"
                     f" xmlUrl={quoteattr(f.url)} category={quoteattr(f.role)} role={quoteattr(f.role)}/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
