"""Decide whether a new entry republishes a stored one, which one is the original, and how.

1. Candidates: stored entries that share winnowed fingerprints with the new text (the store's
   index answers this without scanning).
2. Confirmation by containment: a candidate is the same story when enough of one text is found
   in the other (an excerpt of 15% of a story is still a repost), and both sides share a real
   run of text, not only the vocabulary of the event.
3. The group's original is its earliest member, wire feeds first; a copy that predates a wire
   original is recorded as an anomaly instead of reversing the chain.
4. ``via``: the earlier copy the new entry took its text from (named by its relay footer, or
   clearly closer to it than to the original).
5. ``kind`` from coverage (share of the original in the copy) and copy share (share of the copy
   that comes from the original); ``credited`` from the copy's attribution lines.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from . import fingerprint as fpmod
from .errors import RelaywatchError
from .models import Link, StoredEntry
from .store import Store
from .text import CleanText, credits_name


class MatchError(RelaywatchError):
    pass


@dataclass(frozen=True)
class MatchParams:
    per_hash: int = 64          # postings read per fingerprint
    max_candidates: int = 12    # candidates confirmed per new entry
    min_shared: int = 6         # shingles two texts must share to be related at all
    min_containment: float = 0.5  # one text must hold at least this share of the other...
    min_coverage: float = 0.1    # ...and the copy at least this share of the original
    verbatim_coverage: float = 0.9
    faithful_share: float = 0.88  # a copy whose text is this much from the original is not edited
    via_margin: float = 0.05
    same_story: float = 0.8      # same feed, this similar: an update of the entry, not a repost


@dataclass(frozen=True)
class MatchResult:
    link: Link | None = None
    update_of: int | None = None
    relinked: tuple[Link, ...] = ()   # existing links re-pointed at a new original


@dataclass(frozen=True)
class Measure:
    shared: int
    a_in_b: float  # share of a's shingles found in b
    b_in_a: float
    jaccard: float


def measure(a: np.ndarray, b: np.ndarray) -> Measure:
    shared = fpmod.overlap(a, b)
    la, lb = max(len(a), 1), max(len(b), 1)
    union = la + lb - shared
    return Measure(shared, shared / la, shared / lb, shared / union if union else 0.0)


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


class Matcher:
    """Matches entries against a store. Keeps a bounded cache of shingle sets (``cache_size``)."""

    def __init__(self, store: Store, params: MatchParams | None = None, cache_size: int = 20_000) -> None:
        self.store = store
        self.params = params or MatchParams()
        self.cache_size = cache_size
        self._shingles: OrderedDict[int, np.ndarray] = OrderedDict()

    # -- shingle cache --------------------------------------------------------------------

    def remember(self, entry_id: int, shingles: np.ndarray) -> None:
        self._shingles[entry_id] = shingles
        self._shingles.move_to_end(entry_id)
        while len(self._shingles) > self.cache_size:
            self._shingles.popitem(last=False)

    def forget(self, entry_id: int) -> None:
        self._shingles.pop(entry_id, None)

    def shingles(self, entry: StoredEntry) -> np.ndarray:
        cached = self._shingles.get(entry.id)
        if cached is None:
            cached = fpmod.fingerprint(entry.text).shingles
            self.remember(entry.id, cached)
        else:
            self._shingles.move_to_end(entry.id)
        return cached

    # -- the decision -----------------------------------------------------------------------

    def related(self, m: Measure) -> bool:
        p = self.params
        return m.shared >= p.min_shared and max(m.a_in_b, m.b_in_a) >= p.min_containment \
            and min(m.a_in_b, m.b_in_a) >= p.min_coverage

    def match(self, new: StoredEntry, clean: CleanText, fp: fpmod.Fingerprint, now: datetime) -> MatchResult:
        p = self.params
        hits = self.store.candidates(fp.winnowed, p.per_hash)
        hits.pop(new.id, None)
        if not hits:
            return MatchResult()
        need = 1 if len(fp.winnowed) < 6 else 2
        ids = [i for i, n in sorted(hits.items(), key=lambda kv: (-kv[1], kv[0])) if n >= need]
        ids = ids[: p.max_candidates]
        if not ids:
            return MatchResult()
        cands = self.store.entries(ids)
        measures: dict[int, Measure] = {}
        for cid in ids:
            c = cands.get(cid)
            if c is None:
                continue
            m = measure(fp.shingles, self.shingles(c))
            if self.related(m):
                measures[cid] = m
        if not measures:
            return MatchResult()
        # the group: originals of the related candidates; the strongest relation decides
        originals = self.store.originals_of(measures)
        best = max(measures, key=lambda i: (measures[i].shared, -i))
        root_id = originals.get(best, best)
        root = cands.get(root_id) or self.store.entry(root_id)
        if root.feed_id == new.feed_id:
            m_root = measures.get(root_id) or measure(fp.shingles, self.shingles(root))
            if m_root.jaccard >= p.same_story or (m_root.a_in_b >= p.same_story and m_root.b_in_a >= p.same_story):
                return MatchResult(update_of=root_id)
        if self._precedes(new, root):
            return self._reroot(new, fp, root, now)
        link = self._link(new, clean, fp, root, cands, measures, originals)
        return MatchResult(link=link) if link else MatchResult()

    @staticmethod
    def _precedes(new: StoredEntry, root: StoredEntry) -> bool:
        """Whether the new entry, not the group's original, is the story's original."""
        if new.role == "wire" and root.role != "wire":
            return True
        if root.role == "wire" and new.role != "wire":
            return False
        return new.when < root.when

    def _link(self, new: StoredEntry, clean: CleanText, fp: fpmod.Fingerprint, root: StoredEntry,
              cands: dict[int, StoredEntry], measures: dict[int, Measure],
              originals: dict[int, int]) -> Link | None:
        p = self.params
        root_sh = self.shingles(root)
        m = measures.get(root.id) or measure(fp.shingles, root_sh)
        # m.a_in_b: share of the new text found in the original; m.b_in_a: share of the original
        if m.shared < p.min_shared or m.b_in_a < p.min_coverage or max(m.a_in_b, m.b_in_a) < p.min_containment:
            return None
        coverage, share = m.b_in_a, m.a_in_b
        via = self._via(new, fp.shingles, clean, root, m, cands, measures, originals)
        kind = self.kind(coverage, share)
        anomaly = None
        if new.when < root.when:
            anomaly = "copy dated before its original"
        lag = (new.when - root.when).total_seconds()
        credited = credits_name(clean, root.credit_names)
        return Link(root.id, new.id, via, kind, coverage, share, lag, credited, anomaly)

    def kind(self, coverage: float, share: float) -> str:
        p = self.params
        if share < p.faithful_share:
            return "edited"
        return "verbatim" if coverage >= p.verbatim_coverage else "excerpt"

    def _via(self, new: StoredEntry, new_sh: np.ndarray, clean: CleanText, root: StoredEntry, m_root: Measure,
             cands: dict[int, StoredEntry], measures: dict[int, Measure],
             originals: dict[int, int]) -> int | None:
        """The earlier copy this entry took its text from, if it was not the original itself."""
        p = self.params
        named = {_slug(s) for s in clean.sources}
        named.discard("")
        own = {_slug(new.feed_name), _slug(new.feed_title)}
        named -= own
        members = [c for cid, c in cands.items() if cid in measures and originals.get(cid) == root.id
                   and c.feed_id != new.feed_id and c.when <= new.when]
        if named:
            # also look at copies from the named feed that the candidate list left out
            by_name = [c for c in members if {_slug(c.feed_name), _slug(c.feed_title)} & named]
            if not by_name:
                extra = [link.copy_id for link in self.store.links_of_original(root.id)]
                more = self.store.entries([i for i in extra if i not in cands])
                by_name = [c for c in more.values() if {_slug(c.feed_name), _slug(c.feed_title)} & named
                           and c.feed_id != new.feed_id and c.when <= new.when]
                for c in by_name:
                    measures[c.id] = measure(new_sh, self.shingles(c))
            if by_name:
                if _slug(root.feed_name) in named or _slug(root.feed_title) in named:
                    return None
                return max(by_name, key=lambda c: (measures[c.id].jaccard, -c.id)).id
        best = None
        for c in members:
            mc = measures[c.id]
            if mc.jaccard >= m_root.jaccard + p.via_margin and (best is None or mc.jaccard > measures[best].jaccard):
                best = c.id
        return best

    def _reroot(self, new: StoredEntry, fp: fpmod.Fingerprint, old_root: StoredEntry,
                now: datetime) -> MatchResult:
        """The new entry is the group's original: link the old original and its copies to it."""
        members = [old_root.id] + [link.copy_id for link in self.store.links_of_original(old_root.id)]
        entries = self.store.entries(members)
        relinked = []
        for mid in members:
            e = entries[mid]
            old = self.store.link_of(mid)
            m = measure(self.shingles(e), fp.shingles)
            coverage, share = m.b_in_a, m.a_in_b
            clean = CleanText(e.text, e.dateline, e.credits, e.sources)
            credited = credits_name(clean, new.credit_names)
            via = old.via_id if old else None
            anomaly = "copy dated before its original" if e.when < new.when else None
            relinked.append(Link(new.id, mid, via, self.kind(coverage, share), coverage, share,
                                 (e.when - new.when).total_seconds(), credited, anomaly))
        return MatchResult(relinked=tuple(relinked))
