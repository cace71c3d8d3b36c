"""The earlier copy a new entry took its text from (``via``), and earlier copies that named it.

A relay's footer names the outlet it copied ("from SITE", "appeared first on"): the named outlet's
earlier copy is the one taken (``via``: of several, the one the relay links to, whose title it
took, whose page furniture it carries, that it holds most closely). Without a name, a copy that
repeats another copy's own changes to the original took it from that copy (``_by_edits``). Feeds
are polled in any order, so a relay stored before the copy it names is pointed at it once that copy
arrives (``adopt``); when a group is re-rooted, each member's named copy is found again
(``named_via``). Pure: no I/O; ``decide`` calls these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from relaywatch.detect.measure import Measure, measure, own_words
from relaywatch.models import Link, StoredEntry

if TYPE_CHECKING:
    from relaywatch.detect.decide import Group, Known, MatchParams, New


@lru_cache(maxsize=4096)  # feed names and titles: a few, asked for ~9 times an entry
def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _names(e: StoredEntry) -> set[str]:
    return {_slug(e.feed_name), _slug(e.feed_title)}


def named_outlets(e: StoredEntry, sources: Iterable[str]) -> set[str]:
    """The outlets a relay footer names, other than the entry's own."""
    return {_slug(s) for s in sources} - {""} - _names(e)


def members(new: New, root: Known, known: Mapping[int, Known], measures: Mapping[int, Measure],
            originals: Mapping[int, int]) -> dict[int, Known]:
    """The related candidates that are earlier copies of ``root`` from other feeds."""
    e = new.entry
    return {cid: known[cid] for cid in measures if originals.get(cid) == root.id
            and known[cid].entry.feed_id != e.feed_id and known[cid].entry.when <= e.when}


def named_elsewhere(new: New, root: Known, members: Mapping[int, Known]) -> bool:
    """Whether the new entry's relay footer names an outlet that is neither the original's nor one
    of the related copies': the named copy must be looked for among all of the original's copies."""
    named = named_outlets(new.entry, new.clean.sources)
    if not named or _names(root.entry) & named:
        return False
    return not any(_names(c.entry) & named for c in members.values())


def _title_taken(title: str, relay_title: str) -> bool:
    """Whether a relay's title is this title with something added ("<headline> - from <outlet>")."""
    t, r = " ".join(title.lower().split()), " ".join(relay_title.lower().split())
    return bool(t) and r != t and r.startswith(t)


def _chrome(copied: tuple[str, ...], relay: tuple[str, ...]) -> int:
    """How well a relay's page furniture fits an earlier copy it may have taken: a relay carries the
    footers of the page it copied ("The post ... appeared first on", a related-posts block), so the
    copy's boilerplate patterns that the relay also has count for it, those it lacks against it
    (an outlet that ran a story twice, on pages made differently)."""
    mine = set(relay)
    return sum(1 if name in mine else -1 for name in set(copied))


def via(new: New, root: Known, members: Mapping[int, Known], measures: Mapping[int, Measure], group: Group,
         p: MatchParams) -> int | None:
    """The earlier copy this entry took its text from, if it was not the original itself."""
    named = named_outlets(new.entry, new.clean.sources)
    if named:
        if _names(root.entry) & named:
            return None
        by_name = [c for c in members.values() if _names(c.entry) & named]
        if not by_name:  # the named copy may have been left out of the candidate list
            by_name = [c for cid, c in group.members.items() if cid not in members and _names(c.entry) & named
                       and c.entry.feed_id != new.entry.feed_id and c.entry.when <= new.entry.when]
        if by_name:
            return _by_name(new, by_name, measures)
    return _by_edits(new, root, members, measures, p)


def _by_name(new: New, by_name: list[Known], measures: Mapping[int, Measure]) -> int:
    """Of the earlier copies from the outlet the relay footer names, the one it took."""
    linked = set(new.clean.links)

    def fit(c: Known) -> tuple[bool, bool, float, int, object, int]:
        m = measures.get(c.id) or measure(new.fp, c.fp)
        return (c.entry.url in linked, _title_taken(c.entry.title, new.entry.title), m.closeness,
                _chrome(c.entry.boilerplate, new.clean.boilerplate), c.entry.when, c.id)
    return max(by_name, key=fit).id


def _by_edits(new: New, root: Known, members: Mapping[int, Known], measures: Mapping[int, Measure],
              p: MatchParams) -> int | None:
    """The earlier copy whose own changes to the original the new entry repeats, if one does."""
    best, best_share = None, p.via_share
    for cid, c in members.items():
        m = measures[cid]
        # a copy of a copy holds nearly all of it and nearly nothing else (copies edited alike by
        # the same house rules share edits, but not their cuts and additions)
        if m.closeness < p.via_containment:
            continue
        own = own_words(c.fp, root.fp)
        if np.count_nonzero(own) < p.edit_tokens:
            continue
        repeated = np.count_nonzero(own & m.b_mask) / np.count_nonzero(own)
        if repeated >= best_share:
            best, best_share = cid, repeated
    return best




# -- copies that named the new entry ------------------------------------------------------------

def named_via(e: StoredEntry, root: StoredEntry, group: Mapping[int, Known]) -> int | None:
    """When a group is re-rooted: the earlier member whose outlet e's relay footer names."""
    named = named_outlets(e, e.sources)
    if not named or named & _names(root):
        return None
    hits = [c.entry for c in group.values() if c.id != e.id and c.entry.feed_id != e.feed_id
            and c.entry.when <= e.when and _names(c.entry) & named]
    return min(hits, key=lambda c: (-_chrome(c.boilerplate, e.boilerplate), c.when, c.id)).id if hits else None


def adopt(new: StoredEntry, group: Group) -> tuple[Link, ...]:
    """Copies seen before the new entry, linked to its original with no ``via``, whose relay footer
    names it: they came via it (feeds are polled in any order, so a relay of a relay may be stored
    before the copy it took)."""
    ours = _names(new) - {""}
    adopted = []
    for link in group.links:
        c = group.members.get(link.copy_id)
        if link.via_id is None and c is not None and c.entry.sources and c.entry.feed_id != new.feed_id \
                and c.entry.when >= new.when and ours & {_slug(s) for s in c.entry.sources}:
            adopted.append(replace(link, via_id=new.id))
    return tuple(adopted)
