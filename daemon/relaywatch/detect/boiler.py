"""Boilerplate learned per feed: the short paragraphs that recur across many stories of one feed.

Structure and patterns (``markup``, ``page``, ``text``) leave out the furniture they can name.
What they cannot name (a site's own newsletter prompt, its "Most read" line, a slogan) shows itself
by recurring. A *block* is one paragraph of an entry's clean text, keyed by a 64-bit hash of its
tokens (the fingerprint's tokens: case, punctuation, quotes, entities and NFKC never matter). Only
a paragraph of at most ``MAX_WORDS`` words can be furniture (furniture is short, story paragraphs
long). A feed's window holds the blocks of its last ``WINDOW`` entries; a block that at least
max(``MIN_STORIES``, ``SHARE`` x the window's entries) distinct stories of the window carry is that
feed's boilerplate, and is stripped from its entries (``strip``) before they are fingerprinted.
(``SHARE`` is a tenth, not more: sites rotate several newsletter and app prompts, each on a few
pages in ten; a story's own line in four distinct stories of fifty is rare, and a wire's is kept.)

Stories, not entries, are counted: the updates of one story (a new guid, "UPDATE 2-...") share its
paragraphs, which must not become boilerplate. A new entry repeats an entry of the window when the
paragraphs they share hold at least ``REPEAT_SHARE`` of its words (leaving out its feed's learned
blocks); it then belongs to that entry's story. A short page whose own text is shorter than its
furniture looks like a repeat of its neighbours: such a feed learns late or never, which leaves its
furniture in its text (as before learning), and never strips a story's words.

The wire rule: the recurring lines of a wire are its standard text (a disclaimer it puts in its
stories). They are never stripped from a wire's entries (``removable``), nor from any copy: a short
block that ``PROTECT_STORIES`` stories of a wire's window carry (``Learning.standard``) is not
stripped from an outlet's or a relay's entry either, so a copy that runs the wire's story with its
disclaimer stays verbatim. Pure: no I/O. The state (``Learning``) is rebuilt exactly from its
window (``Seen.blobs``/``Seen.from_blobs``), which is what the store keeps; ``learn`` makes again
only the counts that an entry can change (its blocks, the leaving entry's, the learned ones).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Set
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from relaywatch.detect.fingerprint import tokenize, unique
from relaywatch.detect.text import CleanText

MAX_WORDS = 60        # a paragraph of more words is never furniture
WINDOW = 50           # entries of a feed remembered
MIN_STORIES = 4       # a block is learned once this many distinct stories carry it...
SHARE = 0.1           # ...and at least this share of the window's entries
REPEAT_SHARE = 0.5    # a new entry sharing this share of its words with one entry of the window repeats it
PROTECT_STORIES = 2   # a wire's block carried by this many of its stories is its standard text

_EMPTY = np.zeros(0, dtype=np.int64)
_NO = np.zeros(0, dtype=bool)


@lru_cache(maxsize=65_536)  # furniture recurs, and a wire's paragraphs recur in its copies
def _key(para: str) -> tuple[int, int]:
    """A paragraph's key and number of words; a long one is keyed (for the repeat test) untokenized."""
    n = len(para.split())
    if n > MAX_WORDS:
        return _hash(para.lower()), n
    tokens = tokenize(para)
    return (_hash(" ".join(tokens)) if tokens else 0), len(tokens)


def _hash(text: str) -> int:
    key = int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                         "little", signed=True)
    return key or 1  # 0 marks a paragraph without a token


@dataclass(frozen=True, eq=False)
class Blocks:
    """An entry's paragraphs, with a key and a number of words each (in text order)."""

    paras: tuple[str, ...]
    keys: np.ndarray   # int64; 0: a paragraph without a word
    words: np.ndarray  # int64

    @property
    def short(self) -> np.ndarray:
        """Which paragraphs may be furniture (a word or more, at most MAX_WORDS)."""
        return (self.words > 0) & (self.words <= MAX_WORDS)


def blocks(text: str) -> Blocks:
    """The blocks of a clean text (paragraphs joined by blank lines)."""
    paras = tuple(text.split("\n\n")) if text else ()
    pairs = np.array([_key(p) for p in paras], dtype=np.int64).reshape(-1, 2)
    return Blocks(paras, pairs[:, 0].copy(), pairs[:, 1].copy())


@dataclass(frozen=True, eq=False)
class Seen:
    """One entry of a feed's window: the keys of its paragraphs (sorted, each once), which of them
    are long (never furniture), and the story it belongs to (the serial of the story's first entry)."""

    serial: int
    story: int
    keys: np.ndarray  # int64
    long: np.ndarray  # bool, per key

    def blobs(self) -> tuple[bytes, bytes]:
        """Its keys and long flags as bytes (what the store keeps)."""
        return self.keys.astype("<i8").tobytes(), self.long.astype(np.uint8).tobytes()

    @staticmethod
    def from_blobs(serial: int, story: int, keys: bytes, long: bytes) -> Seen:
        return Seen(serial, story, np.frombuffer(keys, dtype="<i8").astype(np.int64),
                    np.frombuffer(long, dtype=np.uint8).astype(bool))


@dataclass(frozen=True, eq=False)
class Learning:
    """What one feed has learned: its window (the entries' serials and stories, oldest first, and
    their keys one after another), and from it the learned blocks with the number of distinct
    stories carrying each, and its standard lines (carried by ``PROTECT_STORIES`` stories)."""

    serials: np.ndarray = field(default_factory=lambda: _EMPTY)
    stories: np.ndarray = field(default_factory=lambda: _EMPTY)
    sizes: np.ndarray = field(default_factory=lambda: _EMPTY)  # keys of each entry
    keys: np.ndarray = field(default_factory=lambda: _EMPTY)
    long: np.ndarray = field(default_factory=lambda: _NO)
    owner: np.ndarray = field(default_factory=lambda: _EMPTY)  # the story of each key's entry
    learned: dict[int, int] = field(default_factory=dict)
    standard: frozenset[int] = frozenset()

    @property
    def next_serial(self) -> int:
        return int(self.serials[-1]) + 1 if len(self.serials) else 0

    @property
    def window(self) -> tuple[Seen, ...]:
        ends = np.cumsum(self.sizes)
        return tuple(Seen(int(serial), int(story), self.keys[end - n: end], self.long[end - n: end])
                     for serial, story, n, end in zip(self.serials, self.stories, self.sizes, ends, strict=True))

    @property
    def newest(self) -> Seen:
        n = int(self.sizes[-1])
        return Seen(int(self.serials[-1]), int(self.stories[-1]), self.keys[len(self.keys) - n:],
                    self.long[len(self.long) - n:])

    @staticmethod
    def of(window: Iterable[Seen]) -> Learning:
        """The state of a window (oldest entry first): what a restart rebuilds from the store."""
        win = tuple(window)[-WINDOW:]
        if not win:
            return Learning()
        state = Learning(np.array([s.serial for s in win], dtype=np.int64),
                         np.array([s.story for s in win], dtype=np.int64),
                         np.array([len(s.keys) for s in win], dtype=np.int64),
                         np.concatenate([s.keys for s in win]), np.concatenate([s.long for s in win]),
                         np.concatenate([np.full(len(s.keys), s.story, dtype=np.int64) for s in win]))
        return _counted(state, unique(state.keys[~state.long]))


def _counted(state: Learning, keys: np.ndarray) -> Learning:
    """``state`` with the learned blocks and standard lines brought up to date for ``keys`` (sorted
    unique; the others have not changed)."""
    stories = _stories(state, keys)
    threshold = max(MIN_STORIES, math.ceil(SHARE * len(state.serials)))
    learned = {k: n for k, n in state.learned.items() if k not in stories}
    learned.update((k, n) for k, n in stories.items() if n >= threshold)
    standard = set(state.standard)
    for k, n in stories.items():
        if n >= PROTECT_STORIES:
            standard.add(k)
        else:
            standard.discard(k)
    return replace(state, learned=learned, standard=frozenset(standard))


def _stories(state: Learning, keys: np.ndarray) -> dict[int, int]:
    """For each of ``keys`` (sorted unique): the distinct stories of the window carrying it as a short block."""
    if not len(keys):
        return {}
    at = np.minimum(np.searchsorted(keys, state.keys), len(keys) - 1)
    hit = (keys[at] == state.keys) & ~state.long
    k, s = state.keys[hit], state.owner[hit]
    out = dict.fromkeys(keys.tolist(), 0)
    if not len(k):
        return out
    order = np.lexsort((s, k))
    k, s = k[order], s[order]
    first = np.ones(len(k), dtype=bool)
    first[1:] = (k[1:] != k[:-1]) | (s[1:] != s[:-1])
    k = k[first]  # one per (key, story), by key
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    out.update(zip(k[starts].tolist(), np.diff(np.append(starts, len(k))).tolist(), strict=True))
    return out


def _story(state: Learning, keys: np.ndarray, words: np.ndarray) -> int | None:
    """The story of the window's entry that the new entry repeats (None: a story of its own)."""
    if not len(state.serials):
        return None
    own = keys != 0
    if state.learned:
        learned = np.sort(np.fromiter(state.learned, dtype=np.int64, count=len(state.learned)))
        own &= learned[np.minimum(np.searchsorted(learned, keys), len(learned) - 1)] != keys
    keys, words = keys[own], words[own]
    total = int(words.sum())
    if not total:
        return None
    at = np.minimum(np.searchsorted(keys, state.keys), len(keys) - 1)
    hit = keys[at] == state.keys
    if not hit.any():
        return None
    entry = np.repeat(np.arange(len(state.serials)), state.sizes)
    shared = np.bincount(entry[hit], weights=words[at[hit]], minlength=len(state.serials))
    best = len(shared) - 1 - int(np.argmax(shared[::-1]))  # the latest of the closest
    return int(state.stories[best]) if shared[best] >= REPEAT_SHARE * total else None


def observe(state: Learning, b: Blocks) -> Seen:
    """What a new entry adds to its feed's window: its keys, and its story."""
    present = b.keys != 0
    order = np.argsort(b.keys[present], kind="stable")
    keys, words = b.keys[present][order], b.words[present][order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    keys, words = keys[first], words[first]
    serial = state.next_serial
    story = _story(state, keys, words)
    return Seen(serial, serial if story is None else story, keys, words > MAX_WORDS)


def learn(state: Learning, b: Blocks) -> Learning:
    """The feed's state after a new entry with these blocks (its feed's next entry): the oldest
    entry leaves a full window, and only the counts of the blocks of the two entries (and of the
    learned ones: the threshold grows with the window) are made again."""
    seen = observe(state, b)
    drop = max(0, len(state.serials) + 1 - WINDOW)
    cut = int(state.sizes[:drop].sum())
    moved = Learning(np.concatenate([state.serials[drop:], [seen.serial]]),
                     np.concatenate([state.stories[drop:], [seen.story]]),
                     np.concatenate([state.sizes[drop:], [len(seen.keys)]]),
                     np.concatenate([state.keys[cut:], seen.keys]),
                     np.concatenate([state.long[cut:], seen.long]),
                     np.concatenate([state.owner[cut:], np.full(len(seen.keys), seen.story, dtype=np.int64)]),
                     state.learned, state.standard)
    learned = np.fromiter(state.learned, dtype=np.int64, count=len(state.learned))
    touched = np.concatenate([state.keys[:cut][~state.long[:cut]], seen.keys[~seen.long], learned])
    return _counted(moved, unique(touched))


def removable(state: Learning, role: str, protected: Set[int]) -> frozenset[int]:
    """The blocks to strip from an entry of a feed of this role: none from a wire's (its recurring
    lines are its standard text), else the feed's learned blocks that no wire carries as its own
    (``protected``: the union of the wires' ``standard``)."""
    if role == "wire" or not state.learned:
        return frozenset()
    return frozenset(k for k in state.learned if k not in protected)


def strip(clean: CleanText, b: Blocks, remove: Set[int]) -> CleanText | None:
    """The clean text without its paragraphs in ``remove`` (short ones only), or None when none
    is (or every paragraph would be: a text of recurring lines only is kept as it is)."""
    if not remove:
        return None
    gone = np.fromiter((k in remove for k in b.keys.tolist()), dtype=bool, count=len(b.paras)) & b.short
    if not gone.any() or gone.all():
        return None
    kept = [p for p, g in zip(b.paras, gone.tolist(), strict=True) if not g]
    return CleanText("\n\n".join(kept), clean.dateline, clean.credits, clean.sources, clean.boilerplate,
                     clean.links)


def samples(b: Blocks, keys: Iterable[int]) -> dict[int, str]:
    """The text of the entry's paragraph of each of ``keys`` that it has."""
    wanted = set(keys)
    return {k: p for k, p in zip(b.keys.tolist(), b.paras, strict=True) if k in wanted}
