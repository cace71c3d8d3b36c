"""What happened to the original's text in a copy: kept, cut, changed, and what the copy added.

The two texts' words (token hashes, so case, quotes, dashes, entities and Unicode forms are
already alike) are aligned by their longest common subsequence (rapidfuzz's ``Indel.opcodes``:
bit-parallel, ~0.1 ms for two 600-word stories, bounded for long ones). Between two runs of
words both texts have in the same order lies a gap: original words missing from the copy here,
copy words not from the original here, or both. A gap is

- a **cut** when only the original has words there;
- an **addition** when only the copy has words there: before the first kept run (an intro, a
  caption above the story), inside, or after the last (a footer, a list of headlines);
- a **change** when the copy's words there replace the original's: a few words for a few words
  (a word swapped, a figure corrected), or a longer passage that shares word pairs with the one it
  replaced (a sentence reworded); else it is a cut next to an addition (a caption set where a
  paragraph was cut shares nothing with that paragraph);
- a **move** when the copy's words there are original words missing from another place (a
  paragraph or a quote moved up): those original words count as changed, not cut.

Kind, defined on the original's text alone: ``edited`` when at least ``edit_words`` of its words
were changed or moved; else ``verbatim`` when at least ``whole`` of its words are kept, else
``excerpt``. What the page put before, inside or after the story (an intro, a caption, a sentence
of the outlet's own between two of the wire's, a footer, a list of headlines) is counted apart
(``added_*``): it never makes a copy edited, since the original's words are all there, unchanged.
Page furniture inside the story (an advertisement, a "read more" box) is set apart by the text
cleaning before the two texts are aligned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Indel


@dataclass(frozen=True)
class Alignment:
    original_words: int
    kept: int = 0           # original words in the copy, in order, unchanged
    changed: int = 0        # original words reworded, swapped or moved
    cut: int = 0            # original words not in the copy
    added_before: int = 0   # copy words of its own before the first kept run
    added_inside: int = 0
    added_after: int = 0

    @property
    def added(self) -> int:
        return self.added_before + self.added_inside + self.added_after

    def kind(self, edit_words: int, whole: float) -> str:
        if self.changed >= edit_words:
            return "edited"
        return "verbatim" if self.kept >= whole * self.original_words else "excerpt"


@dataclass
class _Gap:
    deleted: list[int]      # original words missing here
    inserted: list[int]     # copy words not from the original here
    where: str              # "before", "inside" or "after"


MOVED_SHARE = 0.5     # share of an inserted passage's word pairs missing from elsewhere: it was moved
REWORDED_SHARE = 0.2  # share of word pairs a passage shares with the one it replaced: reworded
MOVE_MIN = 4          # words a passage needs to count as moved (shorter ones are swaps)


def _pairs(words: Sequence[int]) -> set[tuple[int, int]]:
    return set(zip(words, words[1:], strict=False))


def _gaps(original: Sequence[int], copy: Sequence[int], min_run: int) -> tuple[int, list[_Gap]]:
    """Words kept in order, and the gaps between kept runs, in copy order. A run shorter than
    ``min_run`` words between two gaps is a chance match of common words ("said the", "of a"),
    not text kept: it joins the gap on both sides."""
    ops = [op for op in Indel.opcodes(original, copy)]
    kept, gaps, current = 0, [], _Gap([], [], "before")
    for n, op in enumerate(ops):
        run = op.src_end - op.src_start
        chance = 0 < n < len(ops) - 1 and run < min_run
        if op.tag == "equal" and not chance:
            if current.deleted or current.inserted:
                gaps.append(current)
            kept += run
            current = _Gap([], [], "inside")
            continue
        if op.tag in ("delete", "equal"):
            current.deleted.extend(original[op.src_start:op.src_end])
        if op.tag in ("insert", "equal"):
            current.inserted.extend(copy[op.dest_start:op.dest_end])
    if current.deleted or current.inserted:
        current.where = "after" if kept else "before"
        gaps.append(current)
    return kept, gaps


def _settle(g: _Gap) -> int:
    """Words of a gap both texts have in the same place after all: the alignment, breaking a tie,
    matched common words ("the", "the offer") elsewhere, leaving them in the gap on both sides:
    the copy's words there a run of the original's cut words (kept; the rest cut), or the
    original's words there a run at the copy's end of the gap beside a kept run. Returns how many
    words go back to the kept text."""
    d, i = g.deleted, g.inserted
    if not d or not i:
        return 0
    if len(i) < len(d):
        at = _run_at(d, i)
        if at < 0:
            return 0
        g.inserted, g.deleted = [], d[:at] + d[at + len(i):]
        return len(i)
    if g.where != "after" and i[-len(d):] == d:
        g.inserted, g.deleted = i[:-len(d)], []
        return len(d)
    if g.where != "before" and i[:len(d)] == d:
        g.inserted, g.deleted = i[len(d):], []
        return len(d)
    return 0


def _run_at(words: Sequence[int], run: Sequence[int]) -> int:
    """Where ``run`` stands in ``words`` as a run, the last place it does; -1 if nowhere."""
    first = run[0]
    for at in range(len(words) - len(run), -1, -1):
        if words[at] == first and words[at:at + len(run)] == run:
            return at
    return -1


def _similar(a: Sequence[int], b: Sequence[int]) -> bool:
    pa, pb = _pairs(a), _pairs(b)
    return bool(pa and pb) and len(pa & pb) >= REWORDED_SHARE * min(len(pa), len(pb))


def _changed(g: _Gap, swap_words: int) -> int:
    """Original words of a gap inside the text that the copy changed (0: a cut, an addition)."""
    d, i = len(g.deleted), len(g.inserted)
    if g.where != "inside" or not d or not i:
        return 0  # at the edges, a cut next to the page's own text is not a change
    if min(d, i) <= swap_words:
        return min(d, i)  # words swapped (beside a cut, or a few words added)
    return d if _similar(g.deleted, g.inserted) else 0


def align(original: Sequence[int], copy: Sequence[int], swap_words: int = 3, min_run: int = 3) -> Alignment:
    """How the copy (word hashes in order) treated the original's words; ``swap_words``: at most
    this many words put in place of the original's are a swap, not an addition."""
    kept, gaps = _gaps(original, copy, min_run)
    kept += sum(_settle(g) for g in gaps)
    missing = _pairs([w for g in gaps for w in g.deleted])
    changed = cut = moved = 0
    added = {"before": 0, "inside": 0, "after": 0}
    for g in gaps:
        ins = g.inserted
        if len(ins) >= MOVE_MIN and missing and len(_pairs(ins) & missing) >= MOVED_SHARE * len(_pairs(ins)):
            moved += len(ins)
            cut += len(g.deleted)
            continue
        c = _changed(g, swap_words)
        changed += c
        cut += len(g.deleted) - c
        added[g.where] += len(ins) - c
    moved = min(moved, cut)  # the moved words were counted where they went missing
    return Alignment(len(original), kept, changed + moved, cut - moved, added["before"], added["inside"],
                     added["after"])
