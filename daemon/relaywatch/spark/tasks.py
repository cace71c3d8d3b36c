"""What Spark tasks run before the replay: each function takes one partition's rows (or one key's
values) and calls the project's own parsing, cleaning, fingerprinting, shortlisting and measuring.

Entries are numbered by their place in the archive (``id``: the global line number, files in
path order): the order ``ingest`` stores them in, so every "oldest" and every tie broken by id
is decided as there.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect.decide import MatchParams, derives_either, shortlist
from relaywatch.detect.measure import measure
from relaywatch.detect.prepare import prepare
from relaywatch.poll.archive import parse_line

MAX_ENTRY_BYTES = 8 << 20  # a line longer than this is reported and skipped, not cleaned
FP_CACHE = 512             # fingerprints a confirming task keeps (pairs come sorted by the new entry)

# one line of the archive, parsed and prepared (or why not): the columns of ``schema.PREPARED``
Prepared = tuple[str, int, int, str, str | None, str | None, str | None, str | None, str | None, int,
                 list[int] | None, str | None, str]


def prepare_lines(rows: Iterable[Any], now: datetime) -> Iterator[Prepared]:
    """A partition's lines (``file``, ``block``, ``value``, in file order) as prepared rows:
    (file, block, index in block, status, why, feed, role, guid, content hash, fingerprints,
    hashes, clean text, line); status ``ok``, ``bad`` or ``blank`` (blank lines count, as in ``ingest``)."""
    seen: tuple[str, int] | None = None
    idx = 0
    for row in rows:
        key = (row[0], row[1])
        idx = idx + 1 if key == seen else 0
        seen = key
        yield _prepare_one(row[0], row[1], idx, row[2] or "", now)


def _prepare_one(file: str, block: int, idx: int, line: str, now: datetime) -> Prepared:
    if not line.strip():
        return (file, block, idx, "blank", None, None, None, None, None, 0, None, None, "")
    size = len(line.encode("utf-8", "surrogatepass"))
    if size > MAX_ENTRY_BYTES:
        return (file, block, idx, "bad", f"entry too large ({size:,} bytes)", None, None, None, None, 0, None,
                None, "")
    try:
        feed, role, entry = parse_line(line, now)
        item = prepare(entry)
    except ValueError as e:
        return (file, block, idx, "bad", str(e), None, None, None, None, 0, None, None, "")
    hashes = [int(h) for h in item.fp.winnowed.tolist()]
    return (file, block, idx, "ok", None, feed, role, entry.guid, item.content_hash, len(hashes), hashes,
            item.clean.text, line)


def oldest(top: list[int], entry_id: int, per_hash: int) -> list[int]:
    """``aggregateByKey``'s step: the ``per_hash`` oldest holders of a fingerprint (a sorted list)."""
    if len(top) < per_hash:
        out = [*top, entry_id]
        out.sort()
        return out
    if entry_id < top[-1]:
        return heapq.nsmallest(per_hash, [*top, entry_id])
    return top


def merge_oldest(a: list[int], b: list[int], per_hash: int) -> list[int]:
    return heapq.nsmallest(per_hash, heapq.merge(a, b))


def index_rows(entry_id: int, top: list[int], per_hash: int) -> Iterator[tuple[int, int, int]]:
    """What the daemon's index gives ``entry_id`` for one of its fingerprints when it is stored:
    (entry, older holder, holders counted), for the ``per_hash`` oldest holders (``top``) counted
    up to ``per_hash`` (``store.index.candidates``: the entry itself counted, then left out)."""
    try:
        k = top.index(entry_id)
    except ValueError:
        k = -1
    if k >= 0:
        for old in top[:k]:
            yield entry_id, old, k + 1
    else:
        for old in top:
            if old < entry_id:
                yield entry_id, old, per_hash


def shortlist_one(entry_id: int, fingerprints: int, rows: Iterable[tuple[int, int]],
                  p: MatchParams) -> list[tuple[int, int, int, int, float]]:
    """``decide.shortlist`` of what one entry shares: rows (older holder, holders counted) of
    each shared fingerprint. (entry, candidate, rank, shared, rarity) of those shortlisted."""
    counts: dict[int, list[int]] = {}
    for old, n in rows:
        counts.setdefault(old, []).append(n)
    hits = {old: (len(ns), sum(1.0 / n for n in sorted(ns))) for old, ns in counts.items()}
    return [(entry_id, c, rank, hits[c][0], hits[c][1])
            for rank, c in enumerate(shortlist(hits, fingerprints, p))]


def confirm_pairs(rows: Iterable[Any], p: MatchParams) -> Iterator[tuple[int, int, int, int, float, bool]]:
    """Pairs (entry, candidate, rank, shared, rarity, entry's text, candidate's text) measured as
    ``decide.assess`` measures them: (entry, candidate, rank, shared, rarity, related). Related: one
    took sentences of the other (``decide.derives_either``: which is the copy is decided when the
    group is replayed, by ``decide.derives``)."""
    cache: OrderedDict[int, fpmod.Fingerprint] = OrderedDict()

    def fp(entry_id: int, text: str) -> fpmod.Fingerprint:
        found = cache.get(entry_id)
        if found is None:
            found = cache[entry_id] = fpmod.fingerprint(text, index=False)
            if len(cache) > FP_CACHE:
                cache.popitem(last=False)
        return found

    for new, cand, rank, n, w, new_text, cand_text in rows:
        a, b = fp(new, new_text), fp(cand, cand_text)
        m = measure(a, b, p.figures_from, (p.min_coverage, p.min_containment))
        yield new, cand, rank, n, w, derives_either(a, new_text, b, cand_text, m, p)


def related_of(entry_id: int, pairs: Iterable[tuple[int, int, int, float, bool]],
               p: MatchParams) -> tuple[int, list[tuple[int, int, float]]]:
    """The candidates ``decide.assess`` finds related to one entry: all related ones of its
    shortlist, or none when none of the first ``give_up_after`` is (it stops there).
    Pairs: (candidate, rank, shared, rarity, related); returns (entry, [(candidate, shared, rarity)])."""
    ranked = sorted(pairs, key=lambda t: t[1])
    if not any(ok for _, rank, _, _, ok in ranked if rank < p.give_up_after):
        return entry_id, []
    return entry_id, [(c, n, w) for c, _, n, w, ok in ranked if ok]
