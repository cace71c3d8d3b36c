"""The labels of a link: what happened to the original's text in the copy (kind), what the page
added and where, how much of the copy came from the original, and credit (a credit line naming
the original's outlet, or a link to its page or site). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect.align import Alignment, align
from relaywatch.detect.measure import Measure, found_edited, shares, substituted, swaps
from relaywatch.detect.reuse import Layout, figures_of, layout, sentences_kept
from relaywatch.detect.text import CleanText, credits_name
from relaywatch.models import Link, StoredEntry

if TYPE_CHECKING:
    from relaywatch.detect.decide import Known, MatchParams


def make_link(copy: StoredEntry, copy_fp: fpmod.Fingerprint, clean: CleanText, root: Known, m: Measure,
              via: int | None, p: MatchParams, lay: Layout | None = None) -> Link:
    """The link of a copy to its original; ``m`` measures the copy (a) against it (b). ``kind`` and
    the words added come from aligning the two texts (``align``); the coverages of an edited copy
    count the words it changed in place (``found_edited``)."""
    anomaly = "copy dated before its original" if copy.when < root.entry.when else None
    lag = (copy.when - root.entry.when).total_seconds()
    credit_link = linked_to(clean.links, root.entry.url)
    credited = credit_link is not None or credits_name(clean, root.entry.credit_names)
    if np.array_equal(root.fp.words, copy_fp.words):  # the original word for word: kept whole, nothing added
        al = Alignment(len(root.fp.words), len(root.fp.words))
    else:
        al = align(root.fp.words.tolist(), copy_fp.words.tolist(), p.edit_tokens)
    k = al.kind(p.edit_words, p.verbatim_coverage)
    copy_layout = lay or layout(clean.text, copy_fp.tokens)
    if k != "edited" and substituted(copy_fp, root.fp, m, lambda: (copy_layout.ends, root.layout.ends)) >= p.edit_words:
        k = "edited"
    coverage, copy_share = m.b_cov, m.a_cov
    found = m.a_mask  # a whole copy, an excerpt: its words are the original's, found exactly
    if k == "edited":
        edited = found_edited(copy_fp, root.fp, m, p.edit_tokens, swaps(copy_fp, root.fp, m))
        copy_share, coverage = shares(edited)
        found = edited[0]
    figures = frozenset() if found.all() else figures_of(root.entry.text)
    words = None if found.all() else (copy_fp.words, root.fp.vocabulary)  # (made only when names are read)
    sentences, kept = sentences_kept(copy_layout, found, figures, words)
    return Link(root.id, copy.id, via, k, coverage, copy_share, lag, credited, anomaly,
                al.added_before, al.added_inside, al.added_after, credit_link, sentences, kept)


@lru_cache(maxsize=16_384)  # a site's pages link the same few sites, and an original is read for each copy
def _site(url: str) -> str:
    """The host of an absolute http(s) URL without "www." ("" for any other link)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return ""
    host = (parts.hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def linked_to(hrefs: Iterable[str], original_url: str) -> str | None:
    """The copy's link that credits the original: to its page, else to its site (absolute links
    only: a relative one points into the copy's own site)."""
    if not original_url:
        return None
    absolute = [h for h in hrefs if _site(h)]
    page = original_url.rstrip("/")
    for h in absolute:
        if h.rstrip("/") == page:
            return h
    site = _site(original_url)
    return next((h for h in absolute if site and _site(h) == site), None)
