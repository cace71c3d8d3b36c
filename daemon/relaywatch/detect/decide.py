"""Decide whether a new entry republishes a stored one, which one is the original, and how.

Pure: every function here takes the entries as data (``Known``: a stored entry and its
fingerprint; the links among them) and returns data. Whoever holds the entries (the daemon's
SQLite store, a Spark task) supplies them in three steps:

1. ``shortlist``: from the index's answer (entries sharing winnowed fingerprints with the new
   text, with how many and how rare), the few worth confirming, rarest shared text first;
2. ``assess``, given those candidates, the originals of those that are copies, and the originals'
   entries: which candidates are related by token coverage (``measure``), whether the new entry
   updates an entry of its own feed, which group it joins and that group's original (its earliest
   member, wire feeds first; a copy dated before a wire original is an anomaly, not a new root,
   and one that shares only sentences with a story published days after it is not its copy);
3. ``decide``, given the chosen group (its links and, as ``assess`` asks, its members): the link,
   with ``via`` (``detect.via``: the earlier copy the new entry took its text from, the one its
   relay footer names or one whose own changes to the original it repeats), ``kind`` (``verbatim``: all of the
   original, nothing changed; ``excerpt``: part of it, unchanged; ``edited``: words changed or
   added), coverage and credit; the group's links re-pointed when the new entry is its original;
   earlier copies that named the new entry in their relay footers adopted as its copies.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache, cached_property

import numpy as np

from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect import via as viamod
from relaywatch.detect.label import make_link
from relaywatch.detect.measure import Measure, found_rewritten, measure
from relaywatch.detect.reuse import RUN, Layout, figures_of, layout, reuse
from relaywatch.detect.text import CleanText
from relaywatch.models import Link, StoredEntry

# the version of the labelling rules (3: kind on the original's words alone; credits anywhere;
# 4: a sentence with another template's names is not taken; a word swapped at a kept run's edge is an edit;
# 5: a sentence's last word swapped before a cut is an edit; a cut whose words the alignment matched elsewhere is not)
LABELS = 5


@dataclass(frozen=True)
class MatchParams:
    per_hash: int = 64            # postings read per fingerprint
    max_candidates: int = 8       # candidates confirmed per new entry...
    min_shared_ratio: float = 0.25  # ...that share at least this share of the best one's fingerprints
    give_up_after: int = 3        # this many best candidates unrelated: the rest are not confirmed
    min_tokens: int = 8           # words two texts must share to be related at all
    min_containment: float = 0.4  # one text must be at least this share the other's words...
    min_coverage: float = 0.1     # ...and the other at least this share
    clear_share: float = 0.8      # one text this much inside the other: related without reading sentences
    verbatim_coverage: float = 0.9
    edit_tokens: int = 3          # at most this many words put in place of as many are swapped, not added
    edit_words: int = 1           # a copy that changed this many of the original's words is edited
    via_share: float = 0.7        # share of another copy's own changes repeated: taken from it...
    via_containment: float = 0.9  # ...when each holds at least this share of the other
    same_story: float = 0.8       # same feed and this similar both ways: an update, not a repost
    min_figures: float = 0.5      # share of the figures (numbers) of the text with fewer that the other has
    figures_from: int = 3         # ...checked when both texts have at least this many


@dataclass(frozen=True)
class Known:
    """A stored entry as detection sees it: the entry and its fingerprint."""

    entry: StoredEntry
    fp: fpmod.Fingerprint
    given_layout: Layout | None = None  # as its holder kept it from an earlier decision

    @property
    def id(self) -> int:
        return self.entry.id

    def clean(self) -> CleanText:
        e = self.entry
        return CleanText(e.text, e.dateline, e.credits, e.sources, e.boilerplate)

    @cached_property
    def layout(self) -> Layout:
        """Its sentences and quotes, read once (the matcher keeps a stored entry for the next ones)."""
        return self.given_layout or layout(self.entry.text, self.fp.tokens)

    @property
    def layout_read(self) -> bool:
        """Whether its layout was read (or given): its holder may keep it for the next decisions."""
        return "layout" in self.__dict__


@dataclass(frozen=True)
class New:
    """The new entry: as it will be stored, its clean text (with the links of its page) and fingerprint."""

    entry: StoredEntry
    clean: CleanText
    fp: fpmod.Fingerprint
    given_layout: Layout | None = None  # as a worker process read it

    @cached_property
    def layout(self) -> Layout:
        """Its sentences and quotes (read once, when a candidate needs them, unless given)."""
        return self.given_layout or layout(self.clean.text, self.fp.tokens)


@dataclass(frozen=True)
class Assessment:
    """What ``assess`` found: the related candidates and the group the new entry joins."""

    measures: Mapping[int, Measure]  # related candidates measured (new text = a, candidate = b; see assess)
    originals: Mapping[int, int]     # {candidate that is a copy: its original}
    update_of: int | None = None     # an earlier entry of the same feed with the same story
    root: int | None = None          # the group's original; None: no link
    reroot: bool = False             # the new entry precedes ``root``: it becomes the original
    every_member: bool = False       # ``decide`` needs every copy of ``root``, not only those naming a source


@dataclass(frozen=True)
class Group:
    """Copies of an original, their links and entries: those linked with no ``via`` whose relay
    footer names a source, or every copy when ``Assessment.every_member``."""

    links: tuple[Link, ...] = ()
    members: Mapping[int, Known] = field(default_factory=dict)  # by copy id


@dataclass(frozen=True)
class Decision:
    link: Link | None = None
    update_of: int | None = None
    relinked: tuple[Link, ...] = ()   # existing links re-pointed at a new original, or adopted


def related(m: Measure, p: MatchParams) -> bool:
    """Whether two texts plainly tell the same story in the same words: one of them almost whole
    inside the other (a whole copy, an excerpt, a copy with a few words changed)."""
    return m.a_tokens >= p.min_tokens and max(m.a_cov, m.b_cov) >= p.clear_share \
        and min(m.a_rel, m.b_rel) >= p.min_coverage and m.figures_agree >= p.min_figures


def derives(new: New, other: Known, m: Measure, p: MatchParams) -> bool:
    """Whether the later of the two texts (the copy, by ``_precedes``) took sentences of the other
    (``reuse``), read sentence by sentence when their coverage alone leaves doubt; never sentences
    of an original published days after it (``_dated_after``)."""
    if related(m, p):
        return True
    if m.a_tokens < p.min_tokens:
        return False
    if _precedes(new.entry, other.entry):
        return not _dated_after(new.entry, other.entry) and \
            _took(other.fp, other.layout, new.fp, new.clean.text, m, p, False)
    return not _dated_after(other.entry, new.entry) and \
        _took(new.fp, new.layout, other.fp, other.entry.text, m, p, True)


def derives_either(a: fpmod.Fingerprint, a_text: str, b: fpmod.Fingerprint, b_text: str, m: Measure,
                   p: MatchParams) -> bool:
    """``derives`` when which text is the copy is not known yet (``m`` measures a against b): either
    took sentences of the other. A superset of ``derives``, for a step that only gathers pairs
    (the Spark job's confirmation; the replay of each group decides with ``derives``)."""
    if related(m, p):
        return True
    if m.a_tokens < p.min_tokens:
        return False
    return _took(a, layout(a_text, a.tokens), b, b_text, m, p, True) or \
        _took(b, layout(b_text, b.tokens), a, a_text, m, p, False)


def _took(copy: fpmod.Fingerprint, lay: Layout, original: fpmod.Fingerprint, original_text: str, m: Measure,
          p: MatchParams, copy_is_a: bool) -> bool:
    """Whether ``copy`` took sentences of ``original`` (``m``: a against b; ``copy_is_a``: which)."""
    figures = figures_of(original_text)
    exact = m.a_mask if copy_is_a else m.b_mask
    words = (copy.words, original.vocabulary)
    runs = cache(lambda: fpmod.runs_shared(copy, original, RUN))  # made once, when a sentence could be taken
    if reuse(lay, exact, figures, runs, words).derived:  # found exactly: no need to look for swapped words
        return True
    a, b = (copy, original) if copy_is_a else (original, copy)
    am, bm = found_rewritten(a, b, m, p.edit_tokens)
    return reuse(lay, am if copy_is_a else bm, figures, runs, words).derived


def shortlist(hits: Mapping[int, tuple[int, float]], fingerprints: int, p: MatchParams) -> list[int]:
    """The candidates worth confirming, in the order to confirm them. ``hits``: {entry id: (winnowed
    fingerprints shared with the new text, their rarity)}; ``fingerprints``: the new text's count.

    A candidate sharing a small fraction of what the best one shares is another story that happens
    to hold a phrase or a sentence of this one. Rarest shared text first: a stock sentence that
    dozens of older entries carry must not fill the list ahead of the one story that shares a
    phrase of its own.
    """
    if not hits:
        return []
    need = max(1 if fingerprints < 6 else 2, int(max(n for n, _ in hits.values()) * p.min_shared_ratio))
    ranked = ((-round(w, 6), -n, i) for i, (n, w) in hits.items() if n >= need)  # rarest, most shared, oldest
    return [i for _, _, i in heapq.nsmallest(p.max_candidates, ranked)]


def _measurer(new: New, p: MatchParams) -> Callable[[fpmod.Fingerprint], Measure]:
    """``measure`` of the new text against others with ``p``'s thresholds; its gapped shingles made once."""
    gapped: list[fpmod.Gapped] = []

    def gapped_new() -> fpmod.Gapped:
        if not gapped:
            gapped.append(fpmod.gapped(new.fp))
        return gapped[0]

    def run(other: fpmod.Fingerprint) -> Measure:
        return measure(new.fp, other, p.figures_from, (p.min_coverage, p.min_containment), gapped_new)
    return run


def assess(new: New, candidates: Sequence[Known], originals: Mapping[int, int], known: Mapping[int, Known],
           p: MatchParams) -> Assessment:
    """Which of ``candidates`` (in ``shortlist`` order) are related to the new entry, and the group
    it joins. ``originals``: {candidate that is a copy: its original}; ``known``: every candidate
    and every such original.

    Once the oldest candidate is another feed's original holding exactly the new text (``_whole``)
    and no relay footer names an outlet, the other feeds' candidates left are not measured: none can
    match better (the oldest wins a tie), so that story is the root, and none can be the copy taken
    (``detect.via`` looks for a copy's own words in the new text, which has none beside the root's).
    A wire story run whole by many outlets is compared with its original only."""
    run = _measurer(new, p)
    measures: dict[int, Measure] = {}
    plain = False  # a candidate of another feed's story is plainly related (``related``)
    named = bool(viamod.named_outlets(new.entry, new.clean.sources))
    oldest = min((c.id for c in candidates), default=None)
    whole = False
    for n, c in enumerate(candidates):
        if n >= p.give_up_after and not measures:
            break  # those sharing the rarest text are other stories: the rest share commoner text
        if whole and c.entry.feed_id != new.entry.feed_id:
            continue
        m = run(c.fp)
        if related(m, p):
            measures[c.id] = m
            plain = plain or not _own(new, c, originals, known)
            whole = whole or (not named and c.id == oldest and _whole(new, c, originals))
        elif plain and not named and _moot(new, c, m, p):
            continue
        elif derives(new, c, m, p):
            measures[c.id] = m
    originals = {c: originals[c] for c in measures if c in originals}
    # The feed's own earlier entries: the same story again is an update of that entry. A feed never
    # republishes itself, so its own stories are not originals for it (a copy it made earlier of
    # another feed's story still leads to that story).
    update_of = None
    for cid in list(measures):
        m = measures[cid]
        if known[cid].entry.feed_id == new.entry.feed_id and update_of is None and m.closeness >= p.same_story:
            update_of = cid
        if known[originals.get(cid, cid)].entry.feed_id == new.entry.feed_id:
            del measures[cid]
    if not measures:
        return Assessment(measures, originals, update_of)
    # the group of the best-matching candidate; its original is the story's original
    best = max(measures, key=lambda i: (max(measures[i].a_cov, measures[i].b_cov), measures[i].closeness, -i))
    root = known[originals.get(best, best)]
    # the copy must hold part of the original itself, not only of another copy; and an entry that
    # precedes the group's original must be the original of that original, not only of one of its
    # copies (a wire story that shares a template's sentences with one copy of an unrelated story)
    if root.id not in measures and not derives(new, root, run(root.fp), p):
        return Assessment(measures, originals, update_of)
    if _precedes(new.entry, root.entry):
        return Assessment(measures, originals, update_of, root.id, reroot=True, every_member=True)
    every = viamod.named_elsewhere(new, root, viamod.members(new, root, known, measures, originals))
    return Assessment(measures, originals, update_of, root.id, every_member=every)


def _own(new: New, c: Known, originals: Mapping[int, int], known: Mapping[int, Known]) -> bool:
    """Whether a candidate is the new entry's feed's, or a copy of one of its stories."""
    feed = new.entry.feed_id
    return c.entry.feed_id == feed or known[originals.get(c.id, c.id)].entry.feed_id == feed


def _whole(new: New, c: Known, originals: Mapping[int, int]) -> bool:
    """Whether a candidate is another feed's original (no copy itself) holding exactly the new text
    (the same shingles)."""
    return c.id not in originals and c.entry.feed_id != new.entry.feed_id \
        and np.array_equal(c.fp.shingles, new.fp.shingles)


def _moot(new: New, c: Known, m: Measure, p: MatchParams) -> bool:
    """Whether reading a candidate's sentences cannot change the decision, once a candidate of
    another feed's story is plainly related and the new entry's relay footer names no outlet: it
    could not be the group's best match (less of either text in the other than ``clear_share``,
    which the plain one has), an update (another feed), nor the copy the new entry took (``_via``
    then looks only at copies holding ``via_containment`` of it)."""
    return max(m.a_cov, m.b_cov) < p.clear_share and c.entry.feed_id != new.entry.feed_id


def decide(new: New, a: Assessment, known: Mapping[int, Known], group: Group, p: MatchParams) -> Decision:
    """The link the new entry makes (``a.root`` set), or the links it re-points (``a.reroot``)."""
    if a.root is None:
        return Decision(update_of=a.update_of)
    root = known[a.root]
    if a.reroot:
        return Decision(update_of=a.update_of, relinked=_reroot(new, root, group, p))
    m_root = a.measures.get(root.id) or _measurer(new, p)(root.fp)
    members = viamod.members(new, root, known, a.measures, a.originals)
    via = viamod.via(new, root, members, a.measures, group, p)
    return Decision(link=make_link(new.entry, new.fp, new.clean, root, m_root, via, p, new.layout),
                    update_of=a.update_of, relinked=viamod.adopt(new.entry, group))


# the widest gap between two clocks showing the same instant in valid time zones (UTC-12 to UTC+14):
# a published date off by a wrong zone, or a public feed behind its service, is off by less
DATE_SLACK = timedelta(hours=26)


def _dated_after(original: StoredEntry, copy: StoredEntry) -> bool:
    """Whether the original's published date is later than the copy's by more than ``DATE_SLACK``
    (both dates given by their feeds). A wire story is the original of a story of another role
    (``_precedes``) however the two are dated, when the copy plainly holds it (``related``): its
    date is the one that is wrong. But sentences alone, shared with a wire story published days
    later, were not taken from it: both had them from elsewhere (an agency reuses its own
    background paragraphs in later stories; the copy ran the earlier one)."""
    return original.published is not None and copy.published is not None \
        and original.published - copy.published > DATE_SLACK


def _precedes(new: StoredEntry, root: StoredEntry) -> bool:
    """Whether the new entry, not the group's original, is the story's original."""
    if new.role == "wire" and root.role != "wire":
        return True
    if root.role == "wire" and new.role != "wire":
        return False
    return new.when < root.when


# -- a new original -------------------------------------------------------------------------------

def _reroot(new: New, old_root: Known, group: Group, p: MatchParams) -> tuple[Link, ...]:
    """The new entry is the group's original: link the old original and its copies to it."""
    root = Known(new.entry, new.fp)
    members = {old_root.id: old_root, **{link.copy_id: group.members[link.copy_id] for link in group.links
                                         if link.copy_id in group.members}}
    relinked = []
    for e in members.values():
        m = measure(e.fp, new.fp)
        if m.a_tokens < p.min_tokens:
            continue
        relinked.append(make_link(e.entry, e.fp, e.clean(), root, m, viamod.named_via(e.entry, new.entry, members), p))
    return tuple(relinked)


