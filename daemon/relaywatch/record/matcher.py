"""Decide whether a new entry republishes a stored one, which one is the original, and how.

1. Candidates: stored entries that share winnowed fingerprints with the new text (the store's
   index answers this without scanning), those sharing the rarest fingerprints first.
2. Confirmation by token coverage: the share of each text's words that lie in word 4-grams the
   other text also has. An excerpt holds a small share of the original but is itself almost all
   original text; an edited copy keeps most words in place around its swaps and cuts; two
   stories on the same event share names and phrases but not most of either text.
3. The group's original is its earliest member, wire feeds first; a copy dated before a wire
   original is recorded as an anomaly instead of reversing the chain.
4. ``via``: the earlier copy the new entry took its text from: the one its relay footer names,
   or one whose own changes to the original (its edits, its cuts' seams) the new entry repeats.
5. ``kind``: ``verbatim`` (all of the original, nothing changed), ``excerpt`` (part of it,
   unchanged), ``edited`` (words changed or added); ``credited`` from attribution lines only.
   ``coverage``: the share of the original's words in the copy; an edited copy's counts the words
   it swapped in place (``edited_shares``).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect.text import CleanText, credits_name
from relaywatch.errors import RelaywatchError
from relaywatch.models import IndexRows, Link, StoredEntry
from relaywatch.store import Store


class MatchError(RelaywatchError):
    pass


@dataclass(frozen=True)
class MatchParams:
    per_hash: int = 64            # postings read per fingerprint
    max_candidates: int = 8       # candidates confirmed per new entry...
    min_shared_ratio: float = 0.25  # ...that share at least this share of the best one's fingerprints
    give_up_after: int = 3        # this many best candidates unrelated: the rest are not confirmed
    min_tokens: int = 8           # words two texts must share to be related at all
    min_containment: float = 0.4  # one text must be at least this share the other's words...
    min_coverage: float = 0.1     # ...and the other at least this share
    verbatim_coverage: float = 0.9
    edit_tokens: int = 3          # a copy with this many words of its own is edited (and at most
                                  # this many words swapped in a row count as edited in place)...
    edit_share: float = 0.97      # ...or with less than this share of original words
    via_share: float = 0.7        # share of another copy's own changes repeated: taken from it...
    via_containment: float = 0.9  # ...when each holds at least this share of the other
    same_story: float = 0.8       # same feed and this similar both ways: an update, not a repost
    min_figures: float = 0.5      # share of the figures (numbers) of the text with fewer that the other has
    figures_from: int = 3         # ...checked when both texts have at least this many


@dataclass(frozen=True)
class Measure:
    """How much of ``a`` (the new text) is in ``b`` and of ``b`` in ``a``, by token coverage."""

    a_cov: float
    b_cov: float
    a_tokens: int       # words of a found in b
    a_mask: np.ndarray
    b_mask: np.ndarray
    figures_agree: float = 1.0  # share of the figures of the text with fewer found in the other
    a_near: float = -1.0  # coverages allowing one word in four changed (-1: not measured, see a_cov)
    b_near: float = -1.0

    @property
    def a_rel(self) -> float:
        """Coverage that decides relatedness: exact, or allowing substitutions when that was measured."""
        return max(self.a_cov, self.a_near)

    @property
    def b_rel(self) -> float:
        return max(self.b_cov, self.b_near)


def measure(a: fpmod.Fingerprint, b: fpmod.Fingerprint, figures_from: int = 3,
            near: tuple[float, float] | None = None,
            gapped_a: Callable[[], fpmod.Gapped] | None = None) -> Measure:
    """Token coverage both ways; figures; and, when the larger exact coverage lies in
    ``near`` = [low, high), coverage allowing one word in four to differ (light revisions). Without
    ``near``, exact coverage only (the fuzzy pass costs more than the exact one).

    Two reports from one template (earnings, weather, markets) share most words but not figures.
    """
    am = fpmod.covered(a, b.shingles)
    bm = fpmod.covered(b, a.shingles)
    fewer = min(len(a.numbers), len(b.numbers))
    figures = len(a.numbers & b.numbers) / fewer if fewer >= figures_from else 1.0
    a_hit, b_hit = int(np.count_nonzero(am)), int(np.count_nonzero(bm))
    a_cov, b_cov = a_hit / len(am) if len(am) else 0.0, b_hit / len(bm) if len(bm) else 0.0
    a_near = b_near = -1.0
    if a_hit and near is not None and near[0] <= max(a_cov, b_cov) < near[1]:
        ga, gb = gapped_a() if gapped_a else fpmod.gapped(a), fpmod.gapped(b)
        a_near = float(np.count_nonzero(fpmod.fuzzy_covered(a, b, ga=ga, gb=gb))) / a.tokens
        b_near = float(np.count_nonzero(fpmod.fuzzy_covered(b, a, ga=gb, gb=ga))) / b.tokens
    return Measure(a_cov, b_cov, a_hit, am, bm, figures, a_near, b_near)


def edited_shares(a: fpmod.Fingerprint, b: fpmod.Fingerprint, m: Measure, width: int) -> tuple[float, float]:
    """For an edited copy ``a`` of ``b`` (``m``: their measure): the share of each text's words found
    in the other exactly or edited in place, that is swapped for another word in a 4-word run the
    other has with that word changed (``fingerprint.swapped``), or in a run of at most ``width``
    words between found words.

    Exact coverage counts a word only inside a run of 4 shared words; a copy that swaps every third
    word for a synonym (an article spinner) keeps the whole text in order yet shares few such runs:
    the relay-webmentions spun copy has 0.49 of its original exactly, 0.95 edited in place.
    """
    sa, sb = fpmod.swapped(a, ~m.a_mask, b, ~m.b_mask)
    am = fpmod.fill_gaps(m.a_mask | sa, width)
    bm = fpmod.fill_gaps(m.b_mask | sb, width)
    return (float(np.count_nonzero(am)) / len(am) if len(am) else 0.0,
            float(np.count_nonzero(bm)) / len(bm) if len(bm) else 0.0)


def _closeness(m: Measure) -> float:
    """How nearly two texts are the same text: the smaller of the two coverages."""
    return min(m.a_cov, m.b_cov)


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


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


class Matcher:
    """Matches entries against a store. Keeps a bounded cache of fingerprints (``cache_size``)."""

    def __init__(self, store: Store, params: MatchParams | None = None, cache_size: int = 20_000) -> None:
        self.store = store
        self.params = params or MatchParams()
        self.cache_size = cache_size
        self._fps: OrderedDict[int, fpmod.Fingerprint] = OrderedDict()
        self._gapped: tuple[fpmod.Fingerprint, fpmod.Gapped] | None = None

    # -- fingerprint cache ----------------------------------------------------------------

    def remember(self, entry_id: int, fp: fpmod.Fingerprint) -> None:
        self._fps[entry_id] = fp
        self._fps.move_to_end(entry_id)
        while len(self._fps) > self.cache_size:
            self._fps.popitem(last=False)

    def forget(self, entry_id: int) -> None:
        self._fps.pop(entry_id, None)

    def forget_all(self) -> None:
        """After a rollback: entry ids may be given again to other entries."""
        self._fps.clear()

    def fingerprint(self, entry: StoredEntry) -> fpmod.Fingerprint:
        cached = self._fps.get(entry.id)
        if cached is None:
            cached = fpmod.fingerprint(entry.text, index=False)
            self.remember(entry.id, cached)
        else:
            self._fps.move_to_end(entry.id)
        return cached

    # -- the decision -----------------------------------------------------------------------

    def measure(self, a: fpmod.Fingerprint, b: fpmod.Fingerprint) -> Measure:
        """``measure`` with this matcher's thresholds; the new entry's gapped shingles made once."""
        p = self.params
        return measure(a, b, p.figures_from, (p.min_coverage, p.min_containment), lambda: self._gapped_of(a))

    def _gapped_of(self, fp: fpmod.Fingerprint) -> fpmod.Gapped:
        if self._gapped is None or self._gapped[0] is not fp:
            self._gapped = (fp, fpmod.gapped(fp))
        return self._gapped[1]

    def related(self, m: Measure) -> bool:
        p = self.params
        return m.a_tokens >= p.min_tokens and max(m.a_rel, m.b_rel) >= p.min_containment \
            and min(m.a_rel, m.b_rel) >= p.min_coverage and m.figures_agree >= p.min_figures

    def match(self, new: StoredEntry, clean: CleanText, fp: fpmod.Fingerprint, now: datetime,
              indexed: IndexRows | None = None) -> MatchResult:
        """``indexed``: the index's rows of ``fp`` as a worker process read them (``IndexReader``)."""
        p = self.params
        hits = self.store.candidates(fp.winnowed, p.per_hash, exclude=new.id, indexed=indexed)
        if not hits:
            return MatchResult()
        # a candidate sharing a small fraction of what the best one shares is another story that
        # happens to hold a phrase or a sentence of this one: not worth confirming
        need = max(1 if len(fp.winnowed) < 6 else 2, int(max(n for n, _ in hits.values()) * p.min_shared_ratio))
        # rarest shared text first: a stock sentence that dozens of older entries carry must not
        # fill the candidate list ahead of the one story that shares a phrase of its own
        ranked = ((-round(w, 6), -n, i) for i, (n, w) in hits.items() if n >= need)  # rarest, most shared, oldest
        ids = [i for _, _, i in heapq.nsmallest(p.max_candidates, ranked)]
        if not ids:
            return MatchResult()
        cands = self.store.entries(ids)
        measures: dict[int, Measure] = {}
        for n, cid in enumerate(ids):
            if n >= p.give_up_after and not measures:
                break  # those sharing the rarest text are other stories: the rest share commoner text
            c = cands.get(cid)
            if c is None:
                continue
            m = self.measure(fp, self.fingerprint(c))
            if self.related(m):
                measures[cid] = m
        if not measures:
            return MatchResult()
        originals = self.store.originals_of(measures)
        missing = {originals[c] for c in measures if c in originals and originals[c] not in cands}
        cands.update(self.store.entries(missing))
        # The feed's own earlier entries: the same story again is an update of that entry. A feed
        # never republishes itself, so its own stories are not originals for it (a copy it made
        # earlier of another feed's story still leads to that story).
        update_of = None
        for cid in list(measures):
            root_id = originals.get(cid, cid)
            if cands[cid].feed_id == new.feed_id and update_of is None \
                    and min(measures[cid].a_cov, measures[cid].b_cov) >= p.same_story:
                update_of = cid
            if cands[root_id].feed_id == new.feed_id:
                del measures[cid]
        if not measures:
            return MatchResult(update_of=update_of)
        # the group of the best-matching candidate; its original is the story's original
        best = max(measures, key=lambda i: (max(measures[i].a_cov, measures[i].b_cov),
                                            min(measures[i].a_cov, measures[i].b_cov), -i))
        root = cands[originals.get(best, best)]
        m_root = measures.get(root.id) or self.measure(fp, self.fingerprint(root))
        if self._precedes(new, root):
            return self._reroot(new, fp, root)
        # the copy must hold part of the original itself, not only of another copy
        if m_root.a_tokens < p.min_tokens or m_root.b_rel < p.min_coverage:
            return MatchResult(update_of=update_of)
        via = self._via(new, fp, clean, root, cands, measures, originals)
        return MatchResult(link=self._link(new, fp, clean, root, m_root, via), update_of=update_of,
                           relinked=self._adopt(new, root))

    @staticmethod
    def _precedes(new: StoredEntry, root: StoredEntry) -> bool:
        """Whether the new entry, not the group's original, is the story's original."""
        if new.role == "wire" and root.role != "wire":
            return True
        if root.role == "wire" and new.role != "wire":
            return False
        return new.when < root.when

    def kind(self, m: Measure) -> str:
        """m measures the copy (a) against the original (b)."""
        p = self.params
        own_words = int(np.count_nonzero(~m.a_mask))
        if own_words >= p.edit_tokens or m.a_cov < p.edit_share:
            return "edited"
        return "verbatim" if m.b_cov >= p.verbatim_coverage else "excerpt"

    def _link(self, copy: StoredEntry, copy_fp: fpmod.Fingerprint, clean: CleanText, root: StoredEntry,
              m: Measure, via: int | None) -> Link:
        """The link of a copy to its original; ``m`` measures the copy (a) against it (b). The
        coverages of an edited copy count the words it changed in place (``edited_shares``)."""
        anomaly = "copy dated before its original" if copy.when < root.when else None
        lag = (copy.when - root.when).total_seconds()
        credited = credits_name(clean, root.credit_names)
        kind = self.kind(m)
        coverage, copy_share = m.b_cov, m.a_cov
        if kind == "edited":
            copy_share, coverage = edited_shares(copy_fp, self.fingerprint(root), m, self.params.edit_tokens)
        return Link(root.id, copy.id, via, kind, coverage, copy_share, lag, credited, anomaly)

    def _via(self, new: StoredEntry, fp: fpmod.Fingerprint, clean: CleanText, root: StoredEntry,
             cands: dict[int, StoredEntry], measures: dict[int, Measure],
             originals: dict[int, int]) -> int | None:
        """The earlier copy this entry took its text from, if it was not the original itself."""
        p = self.params
        named = {_slug(s) for s in clean.sources} - {"", _slug(new.feed_name), _slug(new.feed_title)}
        members = {cid: c for cid, c in cands.items() if cid in measures and originals.get(cid) == root.id
                   and c.feed_id != new.feed_id and c.when <= new.when}
        if named:
            if _slug(root.feed_name) in named or _slug(root.feed_title) in named:
                return None
            by_name = [c for c in members.values() if {_slug(c.feed_name), _slug(c.feed_title)} & named]
            if not by_name:  # the named copy may have been left out of the candidate list
                others = [link.copy_id for link in self.store.links_of_original(root.id)
                          if link.copy_id not in members]
                by_name = [c for c in self.store.entries(others).values()
                           if {_slug(c.feed_name), _slug(c.feed_title)} & named
                           and c.feed_id != new.feed_id and c.when <= new.when]
            if by_name:
                linked = set(clean.links)
                return max(by_name, key=lambda c: (c.url in linked, _title_taken(c.title, new.title),
                                                   _closeness(measures.get(c.id) or measure(fp, self.fingerprint(c))),
                                                   _chrome(c.boilerplate, clean.boilerplate), c.when, c.id)).id
        root_fp = self.fingerprint(root)
        best, best_share = None, p.via_share
        for cid, c in members.items():
            m = measures[cid]
            # a copy of a copy holds nearly all of it and nearly nothing else (copies edited alike
            # by the same house rules share edits, but not their cuts and additions)
            if min(m.a_cov, m.b_cov) < p.via_containment:
                continue
            c_fp = self.fingerprint(c)
            own = ~fpmod.covered(c_fp, root_fp.shingles)  # the copy's own words: its edits
            if np.count_nonzero(own) < p.edit_tokens:
                continue
            repeated = np.count_nonzero(own & m.b_mask) / np.count_nonzero(own)
            if repeated >= best_share:
                best, best_share = cid, repeated
        return best

    def _reroot(self, new: StoredEntry, fp: fpmod.Fingerprint, old_root: StoredEntry) -> MatchResult:
        """The new entry is the group's original: link the old original and its copies to it."""
        members = [old_root.id] + [link.copy_id for link in self.store.links_of_original(old_root.id)]
        entries = self.store.entries(members)
        relinked = []
        for mid in members:
            e = entries[mid]
            e_fp = self.fingerprint(e)
            m = measure(e_fp, fp)
            if m.a_tokens < self.params.min_tokens:
                continue
            clean = CleanText(e.text, e.dateline, e.credits, e.sources)
            relinked.append(self._link(e, e_fp, clean, new, m, self._named_via(e, new, entries)))
        return MatchResult(relinked=tuple(relinked))

    def _adopt(self, new: StoredEntry, root: StoredEntry) -> tuple[Link, ...]:
        """Copies seen before the new entry whose relay footer names it: they came via it.

        Feeds are polled in any order, so a relay of a relay may be stored before the copy it took.
        """
        orphans = {link.copy_id: link for link in self.store.named_orphans(root.id)}
        if not orphans:
            return ()
        ours = {_slug(new.feed_name), _slug(new.feed_title)} - {""}
        adopted = []
        for cid, e in self.store.entries(list(orphans)).items():
            if e.feed_id != new.feed_id and e.when >= new.when and ours & {_slug(s) for s in e.sources}:
                adopted.append(replace(orphans[cid], via_id=new.id))
        return tuple(adopted)

    @staticmethod
    def _named_via(e: StoredEntry, root: StoredEntry, group: dict[int, StoredEntry]) -> int | None:
        """When a group is re-rooted: the earlier member whose outlet e's relay footer names."""
        named = {_slug(s) for s in e.sources} - {"", _slug(e.feed_name), _slug(e.feed_title)}
        if not named or named & {_slug(root.feed_name), _slug(root.feed_title)}:
            return None
        hits = [c for c in group.values() if c.id != e.id and c.feed_id != e.feed_id and c.when <= e.when
                and {_slug(c.feed_name), _slug(c.feed_title)} & named]
        return min(hits, key=lambda c: (-_chrome(c.boilerplate, e.boilerplate), c.when, c.id)).id if hits else None


@dataclass(frozen=True)
class MatchResult:
    link: Link | None = None
    update_of: int | None = None
    relinked: tuple[Link, ...] = ()   # existing links re-pointed at a new original
