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
disclaimer stays verbatim. No I/O. A feed's state (``Learning``) is rebuilt exactly from its
window (``Seen.blobs``/``Seen.from_blobs``), which is what the store keeps. ``learn`` updates it in
place, the counts that an entry changes only (its blocks, the leaving entry's): plain dicts, as an
entry has a few dozen blocks (numpy's per-call cost made a frozen copy per entry ~0.5 ms in the
writer). Whoever holds it rebuilds it from the store when a transaction that taught it is undone.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Iterable, Set
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from relaywatch.detect.fingerprint import tokenize
from relaywatch.detect.text import CleanText

MAX_WORDS = 60        # a paragraph of more words is never furniture
WINDOW = 50           # entries of a feed remembered
MIN_STORIES = 4       # a block is learned once this many distinct stories carry it...
SHARE = 0.1           # ...and at least this share of the window's entries
REPEAT_SHARE = 0.5    # a new entry sharing this share of its words with one entry of the window repeats it
PROTECT_STORIES = 2   # a wire's block carried by this many of its stories is its standard text


@lru_cache(maxsize=16_384)  # furniture recurs, and a wire's paragraphs recur in its copies (~5 MB)
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


@dataclass(frozen=True)
class Blocks:
    """An entry's paragraphs, with a key (0: no word) and a number of words each, in text order."""

    paras: tuple[str, ...]
    keys: tuple[int, ...]
    words: tuple[int, ...]


def blocks(text: str) -> Blocks:
    """The blocks of a clean text (paragraphs joined by blank lines)."""
    paras = tuple(text.split("\n\n")) if text else ()
    pairs = [_key(p) for p in paras]
    return Blocks(paras, tuple(k for k, _ in pairs), tuple(n for _, n in pairs))


@dataclass(frozen=True)
class Seen:
    """One entry of a feed's window: the keys of its paragraphs (each once), which of them are long
    (never furniture), and the story it belongs to (the serial of the story's first entry)."""

    serial: int
    story: int
    keys: tuple[int, ...]
    long: tuple[bool, ...]

    def blobs(self) -> tuple[bytes, bytes]:
        """Its keys (int64, little-endian) and long flags (a byte each) as bytes: what the store keeps."""
        return np.array(self.keys, dtype="<i8").tobytes(), bytes(self.long)

    @staticmethod
    def from_blobs(serial: int, story: int, keys: bytes, long: bytes) -> Seen:
        return Seen(serial, story, tuple(np.frombuffer(keys, dtype="<i8").tolist()), tuple(map(bool, long)))


class Learning:
    """What one feed has learned: its window (oldest entry first) and, counted from it, the learned
    blocks with the number of distinct stories carrying each (``learned``), and its standard lines
    (``standard``: carried by ``PROTECT_STORIES`` stories)."""

    def __init__(self) -> None:
        self.window: deque[Seen] = deque()
        self.learned: dict[int, int] = {}
        self.standard: set[int] = set()
        self._pairs: dict[tuple[int, int], int] = {}  # (short key, story): entries of the window
        self._stories: dict[int, int] = {}            # short key: distinct stories of the window
        self._where: dict[int, list[int]] = {}        # key: serials of the window's entries holding it
        self._story_of: dict[int, int] = {}           # serial: story
        self._threshold = 0                           # ``threshold`` when ``learned`` was last counted whole

    @staticmethod
    def of(window: Iterable[Seen]) -> Learning:
        """The state of a window (oldest entry first): what a restart rebuilds from the store."""
        state = Learning()
        for seen in list(window)[-WINDOW:]:
            state.add(seen)
        return state

    @property
    def next_serial(self) -> int:
        return self.window[-1].serial + 1 if self.window else 0

    @property
    def threshold(self) -> int:
        """Distinct stories that make a block learned."""
        return max(MIN_STORIES, math.ceil(SHARE * len(self.window)))

    def add(self, seen: Seen) -> None:
        """Add an entry to the window (the oldest leaves a full window) and count again what changed."""
        touched = set(self._count(seen, 1))
        self._where_add(seen)
        if len(self.window) > WINDOW:
            old = self.window.popleft()
            touched.update(self._count(old, -1))
            for k in old.keys:
                serials = self._where[k]
                serials.remove(old.serial)
                if not serials:
                    del self._where[k]
            del self._story_of[old.serial]
        threshold = self.threshold
        if threshold != self._threshold:  # the window grew: every learned block is counted again
            self._threshold = threshold
            touched.update(self.learned)
        for k in touched:  # the others' stories, and so their standing, are unchanged
            n = self._stories.get(k, 0)
            if n >= threshold:
                self.learned[k] = n
            else:
                self.learned.pop(k, None)
            if n >= PROTECT_STORIES:
                self.standard.add(k)
            else:
                self.standard.discard(k)

    def _where_add(self, seen: Seen) -> None:
        self.window.append(seen)
        self._story_of[seen.serial] = seen.story
        for k in seen.keys:
            self._where.setdefault(k, []).append(seen.serial)

    def _count(self, seen: Seen, step: int) -> list[int]:
        """Count an entry's short keys in (1) or out (-1) of the window's (key, story) pairs."""
        out = []
        for k, long in zip(seen.keys, seen.long, strict=True):
            if long:
                continue
            pair = (k, seen.story)
            n = self._pairs.get(pair, 0) + step
            if n:
                self._pairs[pair] = n
            else:
                del self._pairs[pair]
            if n == (1 if step > 0 else 0):  # the story came, or left
                m = self._stories.get(k, 0) + step
                if m:
                    self._stories[k] = m
                else:
                    del self._stories[k]
            out.append(k)
        return out

    def story(self, keys: Iterable[int], words: Iterable[int]) -> int | None:
        """The story of the window's entry that an entry of these keys repeats (None: its own)."""
        shared: dict[int, int] = {}
        total = 0
        for k, n in zip(keys, words, strict=True):
            if k in self.learned:
                continue
            total += n
            for serial in self._where.get(k, ()):
                shared[serial] = shared.get(serial, 0) + n
        if not shared:
            return None
        best = max(shared, key=lambda serial: (shared[serial], serial))  # the latest of the closest
        return self._story_of[best] if shared[best] >= REPEAT_SHARE * total else None


def observe(state: Learning, b: Blocks) -> Seen:
    """What a new entry adds to its feed's window: its keys (each once), and its story."""
    first: dict[int, int] = {}
    for k, n in zip(b.keys, b.words, strict=True):
        if k and k not in first:
            first[k] = n
    serial = state.next_serial
    story = state.story(first, first.values())
    return Seen(serial, serial if story is None else story, tuple(first), tuple(n > MAX_WORDS for n in first.values()))


def learn(state: Learning, b: Blocks) -> Seen:
    """Learn from a new entry of the feed (in place); returns what it added to the window."""
    seen = observe(state, b)
    state.add(seen)
    return seen


def removable(state: Learning, role: str, protected: Set[int]) -> frozenset[int]:
    """The blocks to strip from an entry of a feed of this role: none from a wire's (its recurring
    lines are its standard text), else the feed's learned blocks that no wire carries as its own
    (``protected``: the union of the wires' ``standard``)."""
    return removable_keys(state.learned, role, protected)


def removable_keys(learned: Iterable[int], role: str, protected: Set[int]) -> frozenset[int]:
    """``removable``, given the keys a feed has learned (a worker's view of them, read from the store)."""
    if role == "wire":
        return frozenset()
    return frozenset(k for k in learned if k not in protected)


def removed(b: Blocks, remove: Set[int]) -> frozenset[int]:
    """The keys ``strip`` removes from an entry of these blocks (short paragraphs only); none when
    it would remove nothing, or every paragraph (a text of recurring lines only is kept as it is)."""
    if not remove or remove.isdisjoint(b.keys):
        return frozenset()
    gone = [k in remove and 0 < n <= MAX_WORDS for k, n in zip(b.keys, b.words, strict=True)]
    if all(gone) or not any(gone):
        return frozenset()
    return frozenset(k for k, out in zip(b.keys, gone, strict=True) if out)


def strip(clean: CleanText, b: Blocks, remove: Set[int]) -> CleanText | None:
    """The clean text without its paragraphs in ``remove`` (short ones only), or None when none
    is (or every paragraph would be: ``removed``)."""
    gone = removed(b, remove)
    if not gone:
        return None
    kept = [p for p, k, n in zip(b.paras, b.keys, b.words, strict=True) if not (k in gone and 0 < n <= MAX_WORDS)]
    return CleanText("\n\n".join(kept), clean.dateline, clean.credits, clean.sources, clean.boilerplate,
                     clean.links)


def samples(b: Blocks, keys: Iterable[int]) -> dict[int, str]:
    """The text of the entry's paragraph of each of ``keys`` that it has."""
    wanted = set(keys)
    return {k: p for k, p in zip(b.keys, b.paras, strict=True) if k in wanted}
