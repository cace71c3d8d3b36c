"""Boilerplate learned per feed: the short paragraphs that recur across many stories of one feed.

Structure and patterns (``markup``, ``page``, ``text``) leave out the furniture they can name.
What they cannot name (a site's own newsletter prompt, its "Most read" line, a slogan) shows itself
by recurring. A *block* is one paragraph of an entry's clean text, keyed by a 64-bit hash of its
tokens (the fingerprint's tokens: case, punctuation, quotes, entities and NFKC never matter). Only
a paragraph of at most ``MAX_WORDS`` words can be furniture (furniture is short, story paragraphs
long). A feed's window holds the blocks of its last ``WINDOW`` entries; a block that at least
max(``MIN_STORIES``, ``SHARE`` x the window's entries) distinct stories of the window carry is that
feed's boilerplate, and is stripped from its entries (``strip``) before they are fingerprinted.

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
window (``Seen.blobs``/``Seen.from_blobs``), which is what the store keeps.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Set
from dataclasses import dataclass, field

import numpy as np

from relaywatch.detect.fingerprint import tokenize
from relaywatch.detect.text import CleanText

MAX_WORDS = 60        # a paragraph of more words is never furniture
WINDOW = 50           # entries of a feed remembered
MIN_STORIES = 4       # a block is learned once this many distinct stories carry it...
SHARE = 0.2           # ...and at least this share of the window's entries
REPEAT_SHARE = 0.5    # a new entry sharing this share of its words with one entry of the window repeats it
PROTECT_STORIES = 2   # a wire's block carried by this many of its stories is its standard text

_EMPTY = np.zeros(0, dtype=np.int64)


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
    keys, words = [], []
    for para in paras:
        n = len(para.split())
        if n > MAX_WORDS:  # never furniture: keyed (for the repeat test) without tokenizing
            keys.append(_hash(para.lower()))
            words.append(n)
            continue
        tokens = tokenize(para)
        keys.append(_hash(" ".join(tokens)) if tokens else 0)
        words.append(len(tokens))
    return Blocks(paras, np.array(keys, dtype=np.int64), np.array(words, dtype=np.int64))


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
    """What one feed has learned: its window (oldest first) and, derived from it, the learned blocks
    with the number of distinct stories carrying each, and its standard lines (``PROTECT_STORIES``)."""

    window: tuple[Seen, ...] = ()
    learned: dict[int, int] = field(default_factory=dict)
    standard: frozenset[int] = frozenset()
    _sorted: np.ndarray = field(default_factory=lambda: _EMPTY)  # every key of the window, sorted...
    _where: np.ndarray = field(default_factory=lambda: _EMPTY)   # ...and the window position of each
    _learned: np.ndarray = field(default_factory=lambda: _EMPTY)  # the learned keys, sorted

    @property
    def next_serial(self) -> int:
        return self.window[-1].serial + 1 if self.window else 0

    @property
    def threshold(self) -> int:
        """Distinct stories that make a block learned."""
        return max(MIN_STORIES, math.ceil(SHARE * len(self.window)))

    @staticmethod
    def of(window: Iterable[Seen]) -> Learning:
        """The state of a window (oldest entry first): what a restart rebuilds from the store."""
        win = tuple(window)[-WINDOW:]
        if not win:
            return Learning()
        keys = np.concatenate([s.keys for s in win])
        where = np.repeat(np.arange(len(win)), [len(s.keys) for s in win])
        order = np.argsort(keys, kind="stable")
        counted, stories = _story_counts(win)
        hot = stories >= max(MIN_STORIES, math.ceil(SHARE * len(win)))
        learned = dict(zip(counted[hot].tolist(), stories[hot].tolist(), strict=True))
        return Learning(win, learned, frozenset(counted[stories >= PROTECT_STORIES].tolist()), keys[order],
                        where[order], counted[hot])


def _story_counts(win: tuple[Seen, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The short keys of a window, sorted, and how many distinct stories carry each."""
    by_story: dict[int, list[np.ndarray]] = {}
    for s in win:
        by_story.setdefault(s.story, []).append(s.keys[~s.long])
    per_story = [parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts)) for parts in by_story.values()]
    if not per_story:
        return _EMPTY, _EMPTY
    return np.unique(np.concatenate(per_story), return_counts=True)


def _story(state: Learning, keys: np.ndarray, words: np.ndarray) -> int | None:
    """The story of the window's entry that the new entry repeats (None: a story of its own)."""
    if not state.window:
        return None
    own = (keys != 0) & ~np.isin(keys, state._learned)
    keys, words = keys[own], words[own]
    total = int(words.sum())
    if not total:
        return None
    lo = np.searchsorted(state._sorted, keys, "left")
    n = np.searchsorted(state._sorted, keys, "right") - lo
    if not n.any():
        return None
    starts = np.cumsum(n) - n
    idx = np.arange(int(n.sum())) - np.repeat(starts, n) + np.repeat(lo, n)
    shared = np.bincount(state._where[idx], weights=np.repeat(words, n), minlength=len(state.window))
    best = len(shared) - 1 - int(np.argmax(shared[::-1]))  # the latest of the closest
    return state.window[best].story if shared[best] >= REPEAT_SHARE * total else None


def observe(state: Learning, b: Blocks) -> Seen:
    """What a new entry adds to its feed's window: its keys, and its story."""
    present = b.keys != 0
    keys, first = np.unique(b.keys[present], return_index=True)
    words = b.words[present][first]
    serial = state.next_serial
    story = _story(state, keys, words)
    return Seen(serial, serial if story is None else story, keys, words > MAX_WORDS)


def learn(state: Learning, b: Blocks) -> Learning:
    """The feed's state after a new entry with these blocks (its feed's next entry)."""
    return Learning.of((*state.window, observe(state, b)))


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
