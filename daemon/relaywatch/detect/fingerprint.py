"""Fuzzy text hashing: word shingles, their 64-bit hashes, and winnowed fingerprints.

A text becomes a sequence of tokens (lower-cased words; single characters for Chinese and
Japanese, which have no spaces between words), then overlapping k-token shingles, each hashed
to a signed 64-bit integer. Winnowing (Schleimer, Wilkerson & Aiken 2003) keeps the smallest hash
of every window of ``WINDOW`` shingles: two texts that share a run of WINDOW + K - 1 tokens are
guaranteed to share a fingerprint, whatever surrounds the run. That guarantee is what lets an
excerpt of three paragraphs of a long story find it, where Jaccard-based MinHash would not.
The fingerprints go into the store's index; the full shingle sets confirm a candidate.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from relaywatch.errors import RelaywatchError


class FingerprintError(RelaywatchError):
    pass


K = 4          # tokens per shingle
WINDOW = 10    # shingles per winnowing window: a shared run of 13 tokens always shares a fingerprint

# kana, CJK ideographs (and extension A, compatibility ideographs), halfwidth katakana
CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFF66, 0xFF9F))
CJK = "".join(f"{chr(low)}-{chr(high)}" for low, high in CJK_RANGES)
CJK_CLASS = f"[{CJK}]"
TOKEN = re.compile(rf"{CJK_CLASS}|[^\W{CJK}]+")  # a CJK character, or a run of other word characters
_MULT = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                  0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9],
                 dtype=np.uint64)
EMPTY = np.zeros(0, dtype=np.int64)
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Fingerprint:
    sequence: np.ndarray   # int64 shingle hashes in text order
    shingles: np.ndarray   # the same, sorted and unique
    winnowed: np.ndarray   # sorted unique int64 fingerprints for the index
    tokens: int
    numbers: frozenset[str] = frozenset()  # tokens with a digit: the figures a copy keeps
    words: np.ndarray = field(default_factory=lambda: EMPTY)  # uint64 hash of each token, in order

    @cached_property
    def vocabulary(self) -> np.ndarray:
        """Its words' hashes, sorted and unique (made once, when asked: whether a word is in the text)."""
        return unique(self.words)

    @cached_property
    def figures(self) -> np.ndarray:
        """For each token: whether it holds a digit (is one of ``numbers``). Made once, when asked: an
        original is read against each copy that may have rewritten it."""
        out = np.zeros(self.tokens, dtype=bool)
        if not self.numbers or len(self.words) != self.tokens:
            return out
        table = np.sort(np.fromiter(map(_word_hash, self.numbers), dtype=np.uint64, count=len(self.numbers)))
        at = np.minimum(np.searchsorted(table, self.words), len(table) - 1)
        return table[at] == self.words

    @cached_property
    def order(self) -> np.ndarray:
        """For each shingle of ``sequence``, its place in ``shingles`` (made once, when first measured)."""
        return np.searchsorted(self.shingles, self.sequence).astype(np.int32)


# TOKEN on ASCII text: one class of characters, which re runs through without trying the CJK
# alternative at every place (99% of the throughput set's texts; 75 -> 46 µs a text)
_ASCII_TOKEN = re.compile(r"[a-z0-9_]+")


def tokenize(text: str) -> list[str]:
    low = text.lower()
    return (_ASCII_TOKEN if low.isascii() else TOKEN).findall(low)


@lru_cache(maxsize=262_144)
def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                          "little")


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads the bits so that winnowing minima are unbiased."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def word_hashes(tokens: list[str]) -> np.ndarray:
    return np.fromiter(map(_word_hash, tokens), dtype=np.uint64, count=len(tokens))


def shingle_hashes(tokens: list[str], k: int = K, words: np.ndarray | None = None) -> np.ndarray:
    """Hashes of the overlapping k-token shingles, in text order (int64). Short texts: one shingle."""
    if not tokens:
        return EMPTY
    if words is None:
        words = word_hashes(tokens)
    return _grams(words, min(k, len(words))).view(np.int64)


def unique(hashes: np.ndarray) -> np.ndarray:
    """The hashes sorted, each once: ``np.unique``, which in numpy 2.4 takes 4x as long on int64
    (35 against 8.5 µs for a story's 400 shingles; 150 against 34 µs for its gapped ones)."""
    out = np.sort(hashes)
    if len(out) < 2:
        return out
    keep = np.empty(len(out), dtype=bool)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out[keep]


def winnow(hashes: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """The minimum of every window of ``window`` consecutive hashes (sorted, unique)."""
    if len(hashes) <= window:
        return hashes[: max(1, len(hashes))].min(keepdims=True) if len(hashes) else EMPTY
    # window - 1 element-wise minima of shifted slices: 12 µs for a story's 400 shingles, where
    # sliding_window_view(...).min(axis=1) (a strided reduction) took 28
    n = len(hashes) - window + 1
    out = hashes[:n].copy()
    for j in range(1, window):
        np.minimum(out, hashes[j: j + n], out=out)
    return unique(out)


def fingerprint(text: str, index: bool = True) -> Fingerprint:
    """The fingerprint of a text; ``index=False`` leaves out the winnowed hashes (a candidate read
    back from the store to be compared needs its shingles, not its index entries)."""
    tokens = tokenize(text)
    words = word_hashes(tokens)
    seq = shingle_hashes(tokens, words=words)
    numbers = frozenset(t for t in tokens if not t.isalpha() and _DIGIT.search(t))
    return Fingerprint(seq, unique(seq), winnow(seq) if index else EMPTY, len(tokens), numbers, words)


def overlap(a: np.ndarray, b: np.ndarray) -> int:
    """Number of hashes that two sorted unique arrays share."""
    if not len(a) or not len(b):
        return 0
    return int(np.intersect1d(a, b, assume_unique=True).size)


def _left_out(total: np.ndarray, word: np.ndarray, place: np.ndarray | int, k: int) -> np.ndarray:
    """Gapped shingle hashes: ``total``, the weighted sum of a shingle's k word hashes, less the
    ``word`` at ``place``, with the place mixed in (so no cross-position matches). Unsigned overflow
    wraps, as the hash means it to."""
    with np.errstate(over="ignore"):
        mark = (np.asarray(place, dtype=np.uint64) + np.uint64(1)) * _MULT[k]
        return _mix(total - word * _MULT[place] + mark).view(np.int64)


def gapped_shingles(words: np.ndarray, k: int = K) -> list[np.ndarray]:
    """For each position j < k: hashes of the k-token shingles with token j left out, in text order.

    Two texts share a gapped shingle where k - 1 of k tokens agree in place: a swapped word
    ("said" for "stated") no longer breaks the k shingles around it.
    """
    n = len(words) - k + 1
    if n <= 0:
        return [EMPTY] * k
    total = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for p in range(k):
            total += words[p: p + n] * _MULT[p]
    return [_left_out(total, words[j: j + n], j, k) for j in range(k)]


@dataclass(frozen=True)
class Gapped:
    """A text's gapped shingles: per left-out position, in text order; and all of them, sorted."""

    seqs: tuple[np.ndarray, ...]
    table: np.ndarray


def gapped(fp: Fingerprint, k: int = K) -> Gapped:
    seqs = tuple(gapped_shingles(fp.words, k)) if len(fp.words) == fp.tokens else (EMPTY,) * k
    return Gapped(seqs, unique(np.concatenate(seqs)))


def fuzzy_covered(a: Fingerprint, b: Fingerprint, k: int = K, ga: Gapped | None = None,
                  gb: Gapped | None = None) -> np.ndarray:
    """For each token of ``a``: whether it lies in a k-token shingle that ``b`` has with at most one
    token different (a light revision keeps most words in place around its substitutions).
    ``ga``/``gb``: the texts' ``gapped`` shingles when already computed."""
    n = a.tokens
    if n < k or b.tokens < k or len(a.words) != n or len(b.words) != b.tokens:
        return np.zeros(n, dtype=bool)
    ga = ga or gapped(a, k)
    other = (gb or gapped(b, k)).table
    hit = np.zeros(n - k + 1, dtype=bool)
    for sa in ga.seqs:  # the left-out position is part of each hash: no cross-position matches
        idx = np.searchsorted(other, sa)
        np.minimum(idx, len(other) - 1, out=idx)
        hit |= other[idx] == sa
    return _spread(hit, n, k)


def covered(fp: Fingerprint, other_shingles: np.ndarray, k: int = K) -> np.ndarray:
    """For each token of ``fp``'s text: whether it lies in a shingle that the other text also has.

    Token coverage is what "how much of this text is in the other" means: a swapped word costs
    that one word (not the k shingles around it), a dropped sentence costs that sentence.
    """
    seq = fp.sequence
    if not len(seq) or not len(other_shingles):
        return np.zeros(fp.tokens, dtype=bool)
    idx = np.searchsorted(other_shingles, seq)
    np.minimum(idx, len(other_shingles) - 1, out=idx)
    return _tokens_in(fp, other_shingles[idx] == seq, k)


def covered_both(a: Fingerprint, b: Fingerprint, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """``covered`` both ways, ``a``'s tokens in ``b`` and ``b``'s in ``a``, from one match of the two
    sorted shingle sets (sorted keys: each binary search starts where the last one ended), spread
    to the tokens through ``order``: 7.5 µs a pair of 200-word texts against 18 µs for looking each
    text's shingles up in the other's, in text order."""
    if not len(a.sequence) or not len(b.sequence):
        return np.zeros(a.tokens, dtype=bool), np.zeros(b.tokens, dtype=bool)
    at = np.searchsorted(b.shingles, a.shingles)
    np.minimum(at, len(b.shingles) - 1, out=at)
    a_in_b = b.shingles[at] == a.shingles
    b_in_a = np.zeros(len(b.shingles), dtype=bool)
    b_in_a[at[a_in_b]] = True
    return _tokens_in(a, a_in_b[a.order], k), _tokens_in(b, b_in_a[b.order], k)


def _tokens_in(fp: Fingerprint, hit: np.ndarray, k: int) -> np.ndarray:
    """Tokens of ``fp`` in a shingle that ``hit`` marks (one bool per shingle of its sequence)."""
    n = fp.tokens
    if len(hit) == 1 and n < k:
        return np.full(n, bool(hit[0]))
    return _spread(hit, n, k)


def runs_shared(a: Fingerprint, b: Fingerprint, n: int) -> np.ndarray:
    """For each token of ``a``: whether it lies in a run of ``n`` words (``n`` <= 8) that ``b`` has
    too, in the same order. A true common run: two shingles that ``b`` has at different places do
    not chain into one, as they do in ``covered`` ("of 5.3 pct" here and "3 pct in February" there
    mark "of 5.3 pct in February", a run ``b`` never has)."""
    if a.tokens < n or b.tokens < n or len(a.words) != a.tokens or len(b.words) != b.tokens:
        return np.zeros(a.tokens, dtype=bool)
    mine, theirs = _grams(a.words, n), np.sort(_grams(b.words, n))
    at = np.minimum(np.searchsorted(theirs, mine), len(theirs) - 1)
    return _spread(theirs[at] == mine, a.tokens, n)


def _grams(words: np.ndarray, n: int) -> np.ndarray:
    """Hashes (uint64) of the text's runs of ``n`` words, in order, from its word hashes."""
    m = len(words) - n + 1
    acc = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            acc += words[j: j + m] * _MULT[j]
    return _mix(acc)


def _known_words(fp: Fingerprint, other: Fingerprint) -> np.ndarray:
    """For each token of ``fp``: whether the other text has that word anywhere."""
    vocabulary = other.vocabulary
    if not len(vocabulary):
        return np.zeros(fp.tokens, dtype=bool)
    at = np.minimum(np.searchsorted(vocabulary, fp.words), len(vocabulary) - 1)
    return vocabulary[at] == fp.words


def _swap_hashes(fp: Fingerprint, own: np.ndarray, k: int, other: Fingerprint) -> tuple[np.ndarray, np.ndarray]:
    """Gapped shingle hashes (as ``gapped_shingles``) of the shingles whose left-out word is one of
    ``own`` and whose other k - 1 words are all words of ``other``, and the shingles' start positions."""
    hashes, start, _ = _swap_hashes_at(fp, own, k, other)
    return hashes, start


def _swap_hashes_at(fp: Fingerprint, own: np.ndarray, k: int,
                    other: Fingerprint) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_swap_hashes``, and the place of each shingle's left-out word. Only shingles that ``other``
    can have with one word changed are hashed: those whose k - 1 kept words it has (most shingles of
    two texts that share little hold a word the other never uses)."""
    place = np.tile(np.arange(k), int(np.count_nonzero(own)))  # of the left-out word in its shingle
    start = np.repeat(np.flatnonzero(own), k) - place
    inside = (start >= 0) & (start <= fp.tokens - k)
    start, place = start[inside], place[inside]
    known = _known_words(fp, other)
    in_window = np.cumsum(np.concatenate(([0], known)))  # known words before each token
    kept_known = in_window[start + k] - in_window[start] - known[start + place]
    start, place = start[kept_known == k - 1], place[kept_known == k - 1]
    total = np.zeros(len(start), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for p in range(k):
            total += fp.words[start + p] * _MULT[p]
    return _left_out(total, fp.words[start + place], place, k), start, place


def swapped(a: Fingerprint, a_own: np.ndarray, b: Fingerprint, b_own: np.ndarray,
            k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """Words swapped for others, for each text: the tokens of each k-token shingle that the other
    text has with one word changed in place, where the changed word is an own word of both texts
    (``a_own``, ``b_own``: not in a shingle the other has). Like ``fuzzy_covered`` both ways, but only
    the shingles around own words are hashed: a lightly edited copy has few."""
    if a.tokens < k or b.tokens < k or len(a.words) != a.tokens or len(b.words) != b.tokens:
        return np.zeros(a.tokens, dtype=bool), np.zeros(b.tokens, dtype=bool)
    ha, pa = _swap_hashes(a, a_own, k, b)
    hb, pb = _swap_hashes(b, b_own, k, a)
    return _found_at(ha, pa, hb, a.tokens, k), _found_at(hb, pb, ha, b.tokens, k)


def substitutions(a: Fingerprint, a_own: np.ndarray, b: Fingerprint, b_own: np.ndarray, k: int = K,
                  ends: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
    """Words of ``a`` put in place of one of ``b``'s: an own word of ``a`` (``a_own``) inside a
    k-token shingle that ``b`` has with that one word changed for an own word of ``b``, the other
    k - 1 words the same and in place, at least one of them on each side ("seismologists said
    whakatane was" -> "seismologists noted whakatane was"; not the last word of a sentence of the
    copy's own before a kept one, whose next words the original has after a sentence it cut).
    Or, given ``ends`` (called only when needed: each text's tokens that end a sentence), a word
    that ends a sentence in both texts after the same k - 1 words ("the department said." -> "the
    department stated.", where the copy cut the next sentence or the text ends): the word after
    it starts another sentence in each, so nothing beside it needs to be the same. Unlike
    ``swapped``, which marks every word of such a shingle, only the word changed."""
    out = np.zeros(a.tokens, dtype=bool)
    if a.tokens < k or b.tokens < k or len(a.words) != a.tokens or len(b.words) != b.tokens \
            or not a_own.any() or not b_own.any():
        return out
    ha, start, place = _swap_hashes_at(a, a_own, k, b)
    hb, b_start, b_place = _swap_hashes_at(b, b_own, k, a)
    hit = _among(ha, hb) & (place >= 1) & (place <= k - 2)  # a word the same on each side
    out[start[hit] + place[hit]] = True
    last = (place == k - 1) & _among(ha, hb[b_place == k - 1])
    if ends is not None and last.any():
        a_end, b_end = ends()
        b_last = (b_place == k - 1) & b_end[b_start + k - 1]
        last &= a_end[start + k - 1] & _among(ha, hb[b_last])
        out[start[last] + k - 1] = True
    return out


def _among(values: np.ndarray, others: np.ndarray) -> np.ndarray:
    """bool: each of ``values`` is one of ``others`` (``np.isin`` without its per-call cost, ~8x)."""
    if not len(values) or not len(others):
        return np.zeros(len(values), dtype=bool)
    table = np.sort(others)
    return table[np.minimum(np.searchsorted(table, values), len(table) - 1)] == values


def _found_at(hashes: np.ndarray, starts: np.ndarray, other: np.ndarray, n: int, k: int) -> np.ndarray:
    """Tokens (n) of the shingles starting at ``starts`` whose hash is in ``other``."""
    hit = np.zeros(n - k + 1, dtype=bool)
    if len(hashes) and len(other):
        table = np.sort(other)
        idx = np.searchsorted(table, hashes)
        np.minimum(idx, len(table) - 1, out=idx)
        hit[starts[table[idx] == hashes]] = True
    return _spread(hit, n, k)


def fill_gaps(mask: np.ndarray, width: int) -> np.ndarray:
    """``mask`` with every run of at most ``width`` False values that has True on both sides set True:
    words swapped for others between words found ("completely broken" -> "totally broken")."""
    found = np.flatnonzero(mask)
    if len(found) < 2:
        return mask.copy()
    gaps = np.diff(found) - 1
    short = (gaps > 0) & (gaps <= width)
    edge = np.zeros(len(mask) + 1, dtype=np.int32)
    edge[found[:-1][short] + 1] = 1   # the gaps are disjoint: no index is given twice
    edge[found[1:][short]] = -1
    return mask | (np.cumsum(edge[:-1]) > 0)


def _spread(hit: np.ndarray, n: int, k: int) -> np.ndarray:
    """Tokens (n) that lie in at least one hit shingle (shingle i holds tokens i .. i + k - 1)."""
    out = np.zeros(n, dtype=bool)
    m = len(hit)
    out[:m] = hit
    for j in range(1, n - m + 1):
        out[j: j + m] |= hit
    return out
