"""An entry's fingerprint and clean text as one compact binary value, carried into the confirm stage.

Confirming a pair measures the two fingerprints (``detect.measure.measure``) and, where coverage
leaves doubt, reads the texts' sentences (``detect.decide.derives_either``, which takes the texts).
Making a fingerprint again from a text costs a tokenizing and a hash per word; this value holds
what measuring reads, made once when the entry is prepared: the word hashes and the shingle
hashes in text order (little-endian 64-bit), the figures (``Fingerprint.numbers``) and the text.
Unpacking is a few array views and one sort (the unique shingles), a few microseconds.

Layout (all little-endian): ``HEADER`` (tokens, shingles, text bytes, figures bytes), the words
(uint64 x tokens), the shingle sequence (int64 x shingles), the text (UTF-8), the figures (UTF-8,
NUL-separated, sorted).
"""

from __future__ import annotations

import struct

import numpy as np

from relaywatch.detect import fingerprint as fpmod

HEADER = struct.Struct("<IIII")


def pack(fp: fpmod.Fingerprint, text: str) -> bytes:
    """``fp`` (its winnowed hashes left out: they travel as their own column) and ``text``."""
    body = text.encode("utf-8", "surrogatepass")
    figures = "\x00".join(sorted(fp.numbers)).encode("utf-8", "surrogatepass")
    return b"".join((HEADER.pack(fp.tokens, len(fp.sequence), len(body), len(figures)),
                     fp.words.astype("<u8", copy=False).tobytes(), fp.sequence.astype("<i8", copy=False).tobytes(),
                     body, figures))


def unpack(blob: bytes) -> tuple[fpmod.Fingerprint, str]:
    """What ``pack`` packed: the fingerprint as ``fingerprint(text, index=False)`` makes it, and the text."""
    tokens, shingles, n_text, n_figures = HEADER.unpack_from(blob)
    at = HEADER.size
    words = np.frombuffer(blob, dtype="<u8", count=tokens, offset=at).astype(np.uint64)
    at += 8 * tokens
    seq = np.frombuffer(blob, dtype="<i8", count=shingles, offset=at).astype(np.int64)
    at += 8 * shingles
    text = bytes(blob[at: at + n_text]).decode("utf-8", "surrogatepass")
    at += n_text
    raw = bytes(blob[at: at + n_figures]).decode("utf-8", "surrogatepass")
    numbers = frozenset(raw.split("\x00")) if raw else frozenset()
    return fpmod.Fingerprint(seq, fpmod.unique(seq), fpmod.EMPTY, tokens, numbers, words), text
