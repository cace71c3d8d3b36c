"""How much of one text another holds: token coverage both ways, figures, edits in place.

Coverage counts a word of ``a`` as found when it lies in a word 4-gram (shingle) that ``b`` also
has. An excerpt holds a small share of the original but is itself almost all original text; an
edited copy keeps most words in place around its swaps and cuts; two stories on the same event
share names and phrases but not most of either text. Pure functions of two fingerprints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from relaywatch.detect import fingerprint as fpmod


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
    # ``swaps`` of the two texts, kept once made
    swapped: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list, compare=False, repr=False)

    @property
    def a_rel(self) -> float:
        """Coverage that decides relatedness: exact, or allowing substitutions when that was measured."""
        return max(self.a_cov, self.a_near)

    @property
    def b_rel(self) -> float:
        return max(self.b_cov, self.b_near)

    @property
    def closeness(self) -> float:
        """How nearly the two texts are the same text: the smaller of the two coverages."""
        return min(self.a_cov, self.b_cov)


def measure(a: fpmod.Fingerprint, b: fpmod.Fingerprint, figures_from: int = 3,
            near: tuple[float, float] | None = None,
            gapped_a: Callable[[], fpmod.Gapped] | None = None) -> Measure:
    """Token coverage both ways; figures; and, when the larger exact coverage lies in
    ``near`` = [low, high), coverage allowing one word in four to differ (light revisions). Without
    ``near``, exact coverage only (the fuzzy pass costs more than the exact one).

    Two reports from one template (earnings, weather, markets) share most words but not figures.
    """
    am, bm = fpmod.covered_both(a, b)
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


Masks = tuple[np.ndarray, np.ndarray]


def shares(found: Masks) -> tuple[float, float]:
    """The share of each text's words that ``found`` marks."""
    am, bm = found
    return (float(np.count_nonzero(am)) / len(am) if len(am) else 0.0,
            float(np.count_nonzero(bm)) / len(bm) if len(bm) else 0.0)




def swaps(a: fpmod.Fingerprint, b: fpmod.Fingerprint, m: Measure) -> Masks:
    """Each text's words swapped in place for one of the other's (``fingerprint.swapped``); none
    when either text has no word of its own (a whole copy, an excerpt: no hashing needed). ``a``
    and ``b`` are the texts ``m`` measured, in its order: the answer is kept on ``m``."""
    if m.swapped:  # asked again for the same two texts (the sentence reading, then the labels)
        return m.swapped[0]
    found = _swapped(a, ~m.a_mask, b, ~m.b_mask)
    m.swapped.append(found)
    return found


def _swapped(a: fpmod.Fingerprint, a_own: np.ndarray, b: fpmod.Fingerprint, b_own: np.ndarray) -> Masks:
    """``fingerprint.swapped`` of these own words; none when either text has none (no hashing)."""
    if not a_own.any() or not b_own.any():
        return np.zeros(len(a_own), dtype=bool), np.zeros(len(b_own), dtype=bool)
    return fpmod.swapped(a, a_own, b, b_own)


def found_edited(a: fpmod.Fingerprint, b: fpmod.Fingerprint, m: Measure, width: int,
                 swapped: Masks | None = None) -> Masks:
    """Each text's words found in the other exactly or edited in place, that is swapped for another
    word in a 4-word run the other has with that word changed (``fingerprint.swapped``), or in a
    run of at most ``width`` words between found words.

    Exact coverage counts a word only inside a run of 4 shared words; a copy that swaps every third
    word for a synonym (an article spinner) keeps the whole text in order yet shares few such runs:
    the relay-webmentions spun copy has 0.49 of its original exactly, 0.95 edited in place.
    """
    sa, sb = swapped if swapped is not None else swaps(a, b, m)
    return fpmod.fill_gaps(m.a_mask | sa, width), fpmod.fill_gaps(m.b_mask | sb, width)


def found_rewritten(a: fpmod.Fingerprint, b: fpmod.Fingerprint, m: Measure, width: int) -> Masks:
    """``found_edited`` as evidence that one text was written from the other: a figure put in place
    of another is not a word edited in place, nor is a figure in a gap between found words. Two
    reports from one template (bond issues, earnings, sales figures) share every phrase around their
    figures ("at 104 declining by one pct per annum", "at 106 declining by ..."): their figures
    are their facts, and the facts differ. (The labels of a copy already found count a changed
    figure as an edit: ``found_edited``.)"""
    a_fig, b_fig = a.figures, b.figures
    a_own, b_own = ~m.a_mask & ~a_fig, ~m.b_mask & ~b_fig
    if np.array_equal(a_own, ~m.a_mask) and np.array_equal(b_own, ~m.b_mask):
        return found_edited(a, b, m, width)  # no figure of either text is its own: the same words (kept on m)
    af, bf = found_edited(a, b, m, width, _swapped(a, a_own, b, b_own))
    return af & (m.a_mask | ~a_fig), bf & (m.b_mask | ~b_fig)


def substituted(a: fpmod.Fingerprint, b: fpmod.Fingerprint, m: Measure,
                ends: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None) -> int:
    """Words of the copy (``a`` of ``m``) put in place of one of the original's (``b``), with the
    three words around each the same and in place (``fingerprint.substitutions``): "the
    underwriters said the" -> "the underwriters noted the" is an edit wherever it stands, beside a
    cut sentence or at the copy's first kept words after a lead of its own, where the alignment
    saw a cut and an addition; and, given ``ends`` (each text's tokens that end a sentence), a
    sentence's last word changed after the same three ("the department said." -> "the department
    stated.") before a cut or at the end of the text."""
    return int(np.count_nonzero(fpmod.substitutions(a, ~m.a_mask, b, ~m.b_mask, ends=ends)))


def own_words(copy: fpmod.Fingerprint, original: fpmod.Fingerprint) -> np.ndarray:
    """The copy's words not found in the original: its edits."""
    return ~fpmod.covered(copy, original.shingles)
