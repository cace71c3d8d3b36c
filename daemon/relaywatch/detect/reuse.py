"""Partial and rewritten reuse, told apart from independent reporting of the same event.

A newspaper that takes wire copy keeps some of its sentences whole or nearly whole (a word
swapped, a clause moved, the tense changed), cuts others, and writes the rest itself. Two
reporters who cover the same court case independently share the names, the figures, a quote or
two (both wrote down what was said) and the wording of the charge, but not their sentences.

So the evidence is counted by sentence of the copy, on its narrative words, those outside
quotation marks:

- a word of the copy is **found** when it lies in a run of four words the original also has, or
  is edited in place (one word of such a run swapped for another, or a gap of at most a few words
  between found words: ``measure.found_rewritten``); a figure put in place of another is not
  edited text but other facts (two reports from one template share every phrase around them);
- a sentence is **taken** when at least 60% of its narrative words, and at least ``MIN_WORDS``
  of them, are found, names left out (a long shared name, "the U.S. League of Savings
  Institutions", is a fact two reports share, not a sentence), ``RUN`` of them a run of words the
  original has in that order (text that only shares stock phrases, "said in a statement on",
  seldom has such a run; two phrases met at different places of the original are not one run).
  A sentence that only holds a shared name, figure or phrase (the charge's wording) is not; a
  quote shared by two reports is no evidence at all. Nor is a sentence whose figures, or whose
  names (words written with a capital inside the sentence: at least two of them), are mostly not
  the original's: the same template filled in for another company, another bond issue, another
  quarter;
- the copy **derives** from the original when at least two of its sentences are taken, or one
  whose narrative words are ``BRIEF_SHARE`` of the copy's words or more (a news-in-brief of one
  wire sentence, a short item built around one; a long quote with the wire's stock attribution,
  "he said in a filing with the Securities and Exchange Commission", is not one).
  One sentence in a long story is not enough: two reports of one agency
  often repeat a background sentence, and a paper's long own report may quote the wire's
  description of an event once. A copy made ``MOSTLY`` of the original's words, in at least two
  of its sentences, with ``MOSTLY`` of their narrative words too, derives from it: a brief that runs
  the wire's two quotes with the wire's words around them ("she said on NBC's Today programme")
  took them from the wire, not from the speaker.

Once a copy derives from the original, what it took counts in full, quotes included: the share of
its sentences taken (a quote sentence is taken when half its words are found) and of its words, and
the share of the original it used. Candidates come from the fingerprint index and are measured
first (``measure``); this finer reading runs only on those whose coverage leaves doubt. Pure: no I/O.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from relaywatch.detect.chars import token_starts

MIN_WORDS = 8       # narrative words a taken sentence has found, at least
BRIEF_SHARE = 0.2   # one taken sentence this share of the copy's words derives it
MOSTLY = 0.6        # a copy this much made of the original's words, in two sentences of it, derives from it
KEPT_WORDS = 3      # a sentence of at least this many words counts in the share of sentences taken
TAKEN_SHARE = 0.6   # share of a sentence's narrative words found to take it, with
RUN = 6             # a run of this many of them found exactly, in a row (common phrases are shorter)
CAPITALS = 0.75     # a sentence with more of its narrative words capitalised is written in capitals

# a sentence ends at . ! ? (not after an initial, "U.S.", or a title such as "Mr.": the look-behinds,
# one a length), at a paragraph break, and at a CJK full stop. Each pattern here opens with one
# class of characters, its alternatives told apart by what that character was: re then skips to
# the next such character, where it tried every alternative at every place (the sentence ends of
# 1,000 characters: 27 -> 9 µs)
_BOUNDARY = re.compile(r"[.!?\n\u3002\uff01\uff1f](?:(?<=[.!?])(?<!\b[A-Z]\.)(?<!\b(?:Mr|Dr|St|Co|No|Jr|Sr|Lt)\.)"
                       r"(?<!\b(?:Gen|Sen|Rep|Gov|Mrs|Inc|Ltd|Col)\.)(?<!\bCorp\.)[\"'\u201d\u2019)\]]*(?=\s|$)"
                       r"|(?<=\n)\s*\n|(?<=[\u3002\uff01\uff1f]))")
# quotation marks (a straight one between two letters is an apostrophe: 'week"s', as old wire copy
# has it) and paragraph breaks, which close a quote left open
_QUOTE = re.compile(r"[\"\u201c\u201d\u201e\u00ab\u00bb\u300c\u300d\u300e\u300f\n](?:(?<=\n)\s*\n|(?<!\n))")
_OPEN = "\u201c\u201e\u00ab\u300c\u300e"
_CLOSE = "\u201d\u00bb\u300d\u300f"
FIGURE = re.compile(r"\d\d*(?:[.,:/]\d+)*")  # a figure whole: "1.4", "55,019,000", "12-7/8" is two


@lru_cache(maxsize=4096)  # an original is read against many copies (its hash is kept by the string)
def figures_of(text: str) -> frozenset[str]:
    """The figures of a text, whole ("1.4", not "1" and "4")."""
    return frozenset(FIGURE.findall(text))


@dataclass(frozen=True)
class Layout:
    """Where a text's sentences and quotes lie, per token (the tokens of ``fingerprint.tokenize``)."""

    sentence: np.ndarray  # int: the sentence of each token, from 0
    quoted: np.ndarray    # bool: the token is inside quotation marks
    figures: tuple[tuple[int, str], ...] = ()  # (its sentence, the figure) of each figure (``FIGURE``)
    names: np.ndarray | None = None  # int: the tokens written with a capital, not a sentence's first

    @property
    def sentences(self) -> int:
        return int(self.sentence[-1]) + 1 if len(self.sentence) else 0

    @property
    def ends(self) -> np.ndarray:
        """bool: the token is its sentence's last."""
        s, last = self.sentence, np.ones(len(self.sentence), dtype=bool)
        last[:-1] = s[1:] != s[:-1]
        return last


def layout(text: str, tokens: int) -> Layout:
    """The sentences and quotes of ``text``, which has ``tokens`` tokens (when the tokens found here
    do not agree with that count, the text is read as one sentence without quotes).

    Where each token starts (``chars.token_starts``) places it among the sentence ends and the
    quotes (a binary search each, in numpy); sentences are numbered from 0, those without a token
    skipped. A name is a token whose first letter changes when lowered, not a sentence's first token."""
    at, capital = token_starts(text)
    if len(at) != tokens:
        return Layout(np.zeros(tokens, dtype=np.int32), np.zeros(tokens, dtype=bool))
    ends = [m.end() for m in _BOUNDARY.finditer(text)]
    raw = np.searchsorted(np.array(ends, dtype=np.int64), at, side="right")  # sentence ends before each token
    first = np.ones(tokens, dtype=bool)
    first[1:] = raw[1:] != raw[:-1]
    sentence = (np.cumsum(first) - 1).astype(np.int32)
    spans = _quote_spans(text)
    quoted = np.zeros(tokens, dtype=bool)
    if spans:
        bounds = np.array(spans, dtype=np.int64)
        inside = np.searchsorted(bounds[:, 0], at, side="right") - 1
        quoted = (inside >= 0) & (at < bounds[np.maximum(inside, 0), 1])
    number = dict(zip(raw[first].tolist(), range(tokens), strict=False))  # sentences with a token
    figures = tuple((number[raw_at], m.group()) for m in FIGURE.finditer(text)
                    if (raw_at := bisect_right(ends, m.start())) in number)
    return Layout(sentence, quoted, figures, np.flatnonzero(capital & ~first).astype(np.int32))


def _quote_spans(text: str) -> list[tuple[int, int]]:
    """The stretches of text inside quotation marks (a paragraph break closes a quote left open)."""
    spans: list[tuple[int, int]] = []
    opened = -1
    for m in _QUOTE.finditer(text):
        ch, at = m.group(), m.start()
        if ch == '"' and 0 < at < len(text) - 1 and text[at - 1].isalnum() and text[at + 1].isalnum():
            continue  # an apostrophe
        if opened < 0 and (ch in _OPEN or ch == '"'):
            opened = m.end()
        elif opened >= 0 and (ch in _CLOSE or ch == '"' or ch[0] == "\n"):
            spans.append((opened, at))
            opened = -1
    if opened >= 0:
        spans.append((opened, len(text)))
    return spans


@dataclass(frozen=True)
class Reuse:
    """What a copy took of an original, by sentence."""

    sentences: int        # sentences of the copy
    taken: int            # of which taken (narrative evidence)
    taken_quotes: int     # quote sentences taken (no evidence; counted once derived)
    taken_words: int      # narrative words of the copy in taken sentences (a quote is no evidence)
    words: int
    kept: int = 0         # sentences from the original, quotes and short ones included: most words found
    found: int = 0        # words of the copy found in the original
    kept_narrative: int = 0   # words outside quotes of the kept sentences...
    kept_narrative_found: int = 0  # ...found in the original (a quote's attribution as the wire wrote it)

    @property
    def derived(self) -> bool:
        return self.taken >= 2 or (self.taken == 1 and self.taken_words >= BRIEF_SHARE * self.words) \
            or (self.kept >= 2 and self.found >= MOSTLY * self.words
                and self.kept_narrative_found >= MOSTLY * self.kept_narrative)


def _longest(s: np.ndarray, hit: np.ndarray, count: int) -> np.ndarray:
    """Per sentence (``s``: the sentence of each token): the longest run of ``hit`` tokens in a row."""
    longest = np.zeros(count, dtype=np.int64)
    if not hit.any():
        return longest
    start = hit.copy()
    start[1:] &= ~hit[:-1] | (s[1:] != s[:-1])
    lengths = np.bincount(np.cumsum(start)[hit])[1:]  # the length of each run, in order
    np.maximum.at(longest, s[np.flatnonzero(start)], lengths)
    return longest


def _name_words(lay: Layout, narr: np.ndarray, count: int) -> np.ndarray:
    """The narrative tokens that are names (``Layout.names``), in the sentences not written in
    capitals (where more than ``CAPITALS`` of the narrative words are names, as in a headline or a
    telex in upper case, every word counts): a sentence is taken for its words, not its names."""
    named = np.zeros(len(lay.sentence), dtype=bool)
    if lay.names is None or not len(lay.names):
        return named
    named[lay.names] = True
    named &= ~lay.quoted
    capitals = np.bincount(lay.sentence, weights=named, minlength=count) > CAPITALS * narr
    return named & ~capitals[lay.sentence]


def _strangers(lay: Layout, count: int, figures: frozenset[str], words: Words | None) -> np.ndarray:
    """Per sentence: whether its figures, or its names, are mostly not the original's (more than
    half of them, and for names at least two: a sentence with the wire's words around other
    figures or other names is another story told from the same template)."""
    out = np.zeros(count, dtype=bool)
    if lay.figures:
        at = np.array([i for i, _ in lay.figures])
        other = np.array([w not in figures for _, w in lay.figures])
        out |= np.bincount(at, weights=other, minlength=count) > np.bincount(at, minlength=count) / 2
    if words is not None and lay.names is not None and len(lay.names):
        copy_words, vocabulary = words
        names = copy_words[lay.names]
        if len(vocabulary):
            at = np.minimum(np.searchsorted(vocabulary, names), len(vocabulary) - 1)
            other = vocabulary[at] != names
        else:
            other = np.ones(len(names), dtype=bool)
        wrong = np.bincount(lay.sentence[lay.names], weights=other, minlength=count)
        out |= (wrong > np.bincount(lay.sentence[lay.names], minlength=count) / 2) & (wrong >= 2)
    return out


Words = tuple[np.ndarray, np.ndarray]  # the copy's word hashes, in order; the original's vocabulary


def reuse(lay: Layout, found: np.ndarray, figures: frozenset[str] = frozenset(),
          exact: np.ndarray | Callable[[], np.ndarray] | None = None, words: Words | None = None) -> Reuse:
    """The copy's sentences taken from an original, its words ``found`` there (one bool a token);
    ``exact``: its words in a run of ``RUN`` words the original has (``fingerprint.runs_shared``, or
    a function that makes them when a sentence could be taken; None: ``found``); ``figures``: the
    original's (``figures_of``); ``words``: the word hashes of both texts (``Fingerprint.words``).
    A sentence whose figures or names are mostly not the original's is not taken, however many of
    its words are (two reports from one template: earnings, weather, markets, bond issues)."""
    n = len(found)
    if n == 0 or len(lay.sentence) != n:
        return Reuse(0, 0, 0, 0, n)
    s, narrative = lay.sentence, ~lay.quoted
    count = lay.sentences
    if found.all():  # a whole copy: every sentence taken (its figures are the original's)
        total = np.bincount(s, minlength=count)
        narr = np.bincount(s, weights=narrative, minlength=count)
        taken = (narr >= MIN_WORDS) & (_longest(s, narrative, count) >= RUN)  # as below, every word found
        quote = ~taken & (narr < MIN_WORDS) & (total >= MIN_WORDS)
        return Reuse(count, int(np.count_nonzero(taken)), int(np.count_nonzero(quote)), int(narr[taken].sum()),
                     n, int(np.count_nonzero(total >= KEPT_WORDS)), n, int(narr[total >= KEPT_WORDS].sum()),
                     int(narr[total >= KEPT_WORDS].sum()))
    total = np.bincount(s, minlength=count)
    narr = np.bincount(s, weights=narrative, minlength=count)
    narr_found = np.bincount(s, weights=narrative & found, minlength=count)
    plain = narrative & ~_name_words(lay, narr, count)
    plain_all = np.bincount(s, weights=plain, minlength=count)
    plain_found = np.bincount(s, weights=plain & found, minlength=count)
    all_found = np.bincount(s, weights=found, minlength=count)
    enough = (plain_found >= TAKEN_SHARE * plain_all) & (plain_found >= MIN_WORDS)
    kept = (all_found >= TAKEN_SHARE * total) & (total >= KEPT_WORDS)
    if not kept.any() and not enough.any():  # no sentence could be taken: nothing more to read
        return Reuse(count, 0, 0, 0, n, 0, int(np.count_nonzero(found)))
    own = ~_strangers(lay, count, figures, words)
    runs = found if exact is None else exact if isinstance(exact, np.ndarray) else exact()
    taken = enough & own & (_longest(s, narrative & runs, count) >= RUN)
    quote = ~taken & (narr < MIN_WORDS) & own & (all_found >= TAKEN_SHARE * total) & (all_found >= MIN_WORDS)
    kept &= own
    return Reuse(count, int(np.count_nonzero(taken)), int(np.count_nonzero(quote)), int(plain_all[taken].sum()), n,
                 int(np.count_nonzero(kept)), int(np.count_nonzero(found)), int(narr[kept].sum()),
                 int(narr_found[kept].sum()))


def sentences_kept(lay: Layout, found: np.ndarray, figures: frozenset[str] = frozenset(),
                   words: Words | None = None) -> tuple[int, int]:
    """The copy's sentences, and those of them kept from the original (``Reuse.kept``): what a
    link records of how much was taken (``reuse``'s count, without reading what derives)."""
    n = len(found)
    if n == 0 or len(lay.sentence) != n:
        return 0, 0
    count = lay.sentences
    total = np.bincount(lay.sentence, minlength=count)
    if found.all():
        return count, int(np.count_nonzero(total >= KEPT_WORDS))
    all_found = np.bincount(lay.sentence, weights=found, minlength=count)
    kept = (all_found >= TAKEN_SHARE * total) & (total >= KEPT_WORDS)
    if kept.any():
        kept &= ~_strangers(lay, count, figures, words)
    return count, int(np.count_nonzero(kept))
