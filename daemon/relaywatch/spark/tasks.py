"""What Spark tasks run before the replay: each function takes one partition's rows (or one key's
values) and calls the project's own parsing, cleaning, fingerprinting, shortlisting and measuring.

Entries are numbered by their place in the archive (``id``: the global line number, files in
path order): the order ``ingest`` stores them in, so every "oldest" and every tie broken by id
is decided as there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from relaywatch.detect import boiler
from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect.decide import MatchParams, derives_either, shortlist
from relaywatch.detect.measure import measure
from relaywatch.detect.prepare import prepare
from relaywatch.detect.text import CleanText
from relaywatch.poll.archive import parse_line
from relaywatch.spark import carry

MAX_ENTRY_BYTES = 8 << 20  # a line longer than this is reported and skipped, not cleaned

# one line of the archive, parsed and prepared (or why not): the columns of ``schema.PREPARED``
Prepared = tuple[str, int, int, str, str | None, str | None, str | None, str | None, str | None, int,
                 list[int] | None, bytes | None, list[int] | None, list[int] | None, str]


def prepare_lines(rows: Iterable[Any], now: datetime) -> Iterator[Prepared]:
    """A partition's lines (``file``, ``block``, ``value``, in file order) as prepared rows:
    (file, block, index in block, status, why, feed, role, guid, content hash, fingerprints,
    hashes, fingerprint and clean text (``carry``), its blocks' keys and words (``detect.boiler.blocks``),
    line); status ``ok``, ``bad`` or ``blank`` (blank lines count, as in ``ingest``)."""
    seen: tuple[str, int] | None = None
    idx = 0
    for row in rows:
        key = (row[0], row[1])
        idx = idx + 1 if key == seen else 0
        seen = key
        yield _prepare_one(row[0], row[1], idx, row[2] or "", now)


def _prepare_one(file: str, block: int, idx: int, line: str, now: datetime) -> Prepared:
    if not line.strip():
        return (file, block, idx, "blank", None, None, None, None, None, 0, None, None, None, None, "")
    size = len(line.encode("utf-8", "surrogatepass"))
    if size > MAX_ENTRY_BYTES:
        return (file, block, idx, "bad", f"entry too large ({size:,} bytes)", None, None, None, None, 0, None,
                None, None, None, "")
    try:
        feed, role, entry = parse_line(line, now)
        item = prepare(entry)
    except ValueError as e:
        return (file, block, idx, "bad", str(e), None, None, None, None, 0, None, None, None, None, "")
    hashes = item.fp.winnowed.tolist()
    b = item.blocks or boiler.blocks(item.clean.text)
    return (file, block, idx, "ok", None, feed, role, entry.guid, item.content_hash, len(hashes), hashes,
            carry.pack(item.fp, item.clean.text), list(b.keys), list(b.words), line)


def stripped(blob: bytes, remove: Sequence[int]) -> tuple[int, list[int], bytes] | None:
    """An entry's text without the blocks its feed learned (``remove``, as ``boiler.removable`` gave
    them), fingerprinted again, as ``ingest``'s writer does (``detect.boiler.strip``): (fingerprints,
    hashes, ``carry`` value); None when nothing is stripped."""
    _, text = carry.unpack(blob)
    clean = boiler.strip(CleanText(text), boiler.blocks(text), frozenset(remove))
    if clean is None:
        return None
    fp = fpmod.fingerprint(clean.text)
    hashes = fp.winnowed.tolist()
    return len(hashes), hashes, carry.pack(fp, clean.text)


def shortlist_one(entry_id: int, fingerprints: int, shared: Iterable[tuple[int, Sequence[int]]],
                  p: MatchParams) -> list[tuple[int, int, int, int, float]]:
    """``decide.shortlist`` of what one entry shares: for each older entry, the holders counted of
    each fingerprint they share (sorted), as the daemon's index counts them when the entry is
    stored (``store.index.candidates``: at most ``per_hash`` oldest holders of a fingerprint, the
    entry counted among them). (entry, candidate, rank, shared, rarity) of those shortlisted."""
    hits = {old: (len(ns), sum(1.0 / n for n in ns)) for old, ns in shared}
    return [(entry_id, c, rank, hits[c][0], hits[c][1])
            for rank, c in enumerate(shortlist(hits, fingerprints, p))]


def confirm_pairs(rows: Iterable[Any], p: MatchParams) -> Iterator[tuple[int, int, int, int, float, bool]]:
    """Pairs (entry, candidate, rank, shared, rarity, entry's ``carry`` value, candidate's) measured as
    ``decide.assess`` measures them: (entry, candidate, rank, shared, rarity, related). Related: one
    took sentences of the other (``decide.derives_either``: which is the copy is decided when the
    group is replayed, by ``decide.derives``). The fingerprints come made (``carry``): a pair costs
    its measure, and the reading of its sentences where coverage leaves doubt."""
    for new, cand, rank, n, w, new_blob, cand_blob in rows:
        (a, a_text), (b, b_text) = carry.unpack(new_blob), carry.unpack(cand_blob)
        m = measure(a, b, p.figures_from, (p.min_coverage, p.min_containment))
        yield new, cand, rank, n, w, derives_either(a, a_text, b, b_text, m, p)


def related_of(entry_id: int, pairs: Iterable[tuple[int, int, int, float, bool]],
               p: MatchParams) -> tuple[int, list[tuple[int, int, float]]]:
    """The candidates ``decide.assess`` finds related to one entry: all related ones of its
    shortlist, or none when none of the first ``give_up_after`` is (it stops there).
    Pairs: (candidate, rank, shared, rarity, related); returns (entry, [(candidate, shared, rarity)])."""
    ranked = sorted(pairs, key=lambda t: t[1])
    if not any(ok for _, rank, _, _, ok in ranked if rank < p.give_up_after):
        return entry_id, []
    return entry_id, [(c, n, w) for c, _, n, w, ok in ranked if ok]
