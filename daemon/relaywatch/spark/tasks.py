"""What Spark tasks run before the replay: each function takes one partition's rows (or one key's
values) and calls the project's own parsing, cleaning, fingerprinting, shortlisting and measuring.

Entries are numbered by their place in the archive (``id``: the global line number, files in
path order): the order ``ingest`` stores them in, so every "oldest" and every tie broken by id
is decided as there.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from relaywatch.detect import boiler
from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect.decide import MatchParams, derives_either, shortlist
from relaywatch.detect.measure import measure
from relaywatch.detect.prepare import Draft, draft, prepare
from relaywatch.detect.text import CleanText
from relaywatch.poll.archive import parse_line
from relaywatch.spark import carry

MAX_ENTRY_BYTES = 8 << 20  # a line longer than this is reported and skipped, not cleaned

# one line of the archive, parsed and prepared (or why not): the columns of ``schema.PREPARED``
Prepared = tuple[str, int, int, str, str | None, str | None, str | None, str | None, str | None, int,
                 list[int] | None, bytes | None, list[int] | None, list[int] | None, bytes | None]


def prepare_lines(rows: Iterable[Any], now: datetime) -> Iterator[Prepared]:
    """A partition's lines (``file``, ``block``, ``value``, in file order) as prepared rows:
    (file, block, index in block, status, why, feed, role, guid, content hash, fingerprints,
    hashes, fingerprint and clean text (``carry``), its blocks' keys and words (``detect.boiler.blocks``),
    the entry as cleaned, for the replay (``draft``)); status ``ok``, ``bad`` or ``blank`` (blank lines
    count, as in ``ingest``)."""
    seen: tuple[str, int] | None = None
    idx = 0
    for row in rows:
        key = (row[0], row[1])
        idx = idx + 1 if key == seen else 0
        seen = key
        yield _prepare_one(row[0], row[1], idx, row[2] or "", now)


def _prepare_one(file: str, block: int, idx: int, line: str, now: datetime) -> Prepared:
    if not line.strip():
        return (file, block, idx, "blank", None, None, None, None, None, 0, None, None, None, None, None)
    size = len(line.encode("utf-8", "surrogatepass"))
    if size > MAX_ENTRY_BYTES:
        return (file, block, idx, "bad", f"entry too large ({size:,} bytes)", None, None, None, None, 0, None,
                None, None, None, None)
    try:
        feed, role, entry = parse_line(line, now)
        cleaned = draft(entry)
        item = prepare(cleaned)
    except ValueError as e:
        return (file, block, idx, "bad", str(e), None, None, None, None, 0, None, None, None, None, None)
    hashes = item.fp.winnowed.tolist()
    b = item.blocks or boiler.blocks(item.clean.text)
    return (file, block, idx, "ok", None, feed, role, entry.guid, item.content_hash, len(hashes), hashes,
            carry.pack(item.fp, item.clean.text), list(b.keys), list(b.words), pack_draft(feed, cleaned))


def pack_draft(feed: str, cleaned: Draft) -> bytes:
    """What the replay needs of an entry: its feed and the entry with its text cleaned (``prepare``
    makes the rest again from it: fingerprint, sentences, blocks), not its line to clean again."""
    return pickle.dumps((feed, cleaned), protocol=pickle.HIGHEST_PROTOCOL)


def unpack_draft(blob: bytes) -> tuple[str, Draft]:
    feed, cleaned = pickle.loads(blob)  # noqa: S301 (made by pack_draft in this job)
    return feed, cleaned


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


def rarity(counts: Iterable[int]) -> float:
    """The rarity of what two texts share: over their shared fingerprints, 1 / the holders the index
    counted for each (``store.index.candidates``), summed in ascending order of the counts."""
    return sum(1.0 / n for n in sorted(counts))


def shortlist_one(entry_id: int, fingerprints: int, shared: Iterable[tuple[int, int, float]],
                  p: MatchParams) -> list[tuple[int, int, int, int, float]]:
    """``decide.shortlist`` of what one entry shares: (older entry, fingerprints shared, ``rarity``)
    as the daemon's index counts them when the entry is stored (at most ``per_hash`` oldest holders
    of a fingerprint, the entry counted among them). (entry, candidate, rank, shared, rarity) of
    those shortlisted."""
    hits = {old: (n, w) for old, n, w in shared}
    return [(entry_id, c, rank, hits[c][0], hits[c][1])
            for rank, c in enumerate(shortlist(hits, fingerprints, p))]


def confirm_pairs(new: int, new_blob: bytes, pairs: Iterable[Any],
                  p: MatchParams) -> Iterator[tuple[int, int, int, float, bool]]:
    """One entry's shortlisted candidates (candidate, rank, shared, rarity, candidate's ``carry``
    value) measured as ``decide.assess`` measures them: (candidate, rank, shared, rarity, related).
    Related: one took sentences of the other (``decide.derives_either``: which is the copy is
    decided when the group is replayed, by ``decide.derives``). The fingerprints come made
    (``carry``): a pair costs its measure, and the reading of its sentences where coverage leaves
    doubt; the entry's own gapped shingles are made once for all its candidates, as ``assess`` does."""
    a, a_text = carry.unpack(new_blob)
    gapped: list[fpmod.Gapped] = []

    def gapped_a() -> fpmod.Gapped:
        if not gapped:
            gapped.append(fpmod.gapped(a))
        return gapped[0]

    for cand, rank, n, w, cand_blob in pairs:
        b, b_text = carry.unpack(cand_blob)
        m = measure(a, b, p.figures_from, (p.min_coverage, p.min_containment), gapped_a)
        yield cand, rank, n, w, derives_either(a, a_text, b, b_text, m, p)


def confirm_entries(rows: Iterable[Any], p: MatchParams) -> Iterator[tuple[int, list[tuple[int, int, float]]]]:
    """Rows (entry, its ``carry`` value, its shortlist with the candidates' values): (entry, related
    candidates) of each entry that has any (``confirm_pairs``, ``related_of``)."""
    for entry_id, blob, pairs in rows:
        found = related_of(entry_id, confirm_pairs(entry_id, blob, pairs, p), p)
        if found[1]:
            yield found


def related_of(entry_id: int, pairs: Iterable[tuple[int, int, int, float, bool]],
               p: MatchParams) -> tuple[int, list[tuple[int, int, float]]]:
    """The candidates ``decide.assess`` finds related to one entry: all related ones of its
    shortlist, or none when none of the first ``give_up_after`` is (it stops there).
    Pairs: (candidate, rank, shared, rarity, related); returns (entry, [(candidate, shared, rarity)])."""
    ranked = sorted(pairs, key=lambda t: t[1])
    if not any(ok for _, rank, _, _, ok in ranked if rank < p.give_up_after):
        return entry_id, []
    return entry_id, [(c, n, w) for c, _, n, w, ok in ranked if ok]
