"""``relaywatch relabel``: every stored link labelled by older rules gets today's labels.

Links are taken in batches, in copy order, each batch re-decided (``detect.relabel``) and written
in one transaction with the version of the rules that labelled it (``reposts.labels``). A run
that is stopped resumes where it stopped: what is left is what still carries an older version.
The daemon may run meanwhile (each batch is a short write); the links it makes carry today's
version already.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from relaywatch.detect.decide import LABELS, MatchParams
from relaywatch.detect.relabel import relabel
from relaywatch.models import Link
from relaywatch.store import Store, utcnow

BATCH = 500


@dataclass
class Relabelled:
    links: int = 0     # links re-decided
    changed: int = 0   # of which a label changed (kind, coverage, additions or credit)
    missing: int = 0   # links whose original or copy is no longer stored (left as they are)


def to_relabel(store: Store) -> int:
    """How many links carry labels of older rules."""
    return store.links.count_labelled_before(LABELS)


def relabel_links(store: Store, params: MatchParams | None = None, batch: int = BATCH,
                  progress: Callable[[int], None] | None = None) -> Relabelled:
    """Re-decide the labels of every link labelled before ``LABELS``; ``progress(n)`` after each
    batch of ``n`` links."""
    p = params or MatchParams()
    out = Relabelled()
    after = 0
    while links := store.links.labelled_before(LABELS, after, batch):
        entries = store.entries.get_many({i for link in links for i in (link.original_id, link.copy_id)})
        now = utcnow()
        with store.lock, store.transaction():
            for link in links:
                original, copy = entries.get(link.original_id), entries.get(link.copy_id)
                if original is None or copy is None:
                    out.missing += 1
                    continue
                new = relabel(link, original, copy, p)
                out.changed += _labels(new) != _labels(link)
                store.links.save(new, now, LABELS)
                out.links += 1
        after = links[-1].copy_id
        if progress is not None:
            progress(len(links))
    return out


def _labels(link: Link) -> tuple[object, ...]:
    return (link.kind, link.credited, link.added_before, link.added_inside, link.added_after,
            round(link.coverage, 4), round(link.copy_share, 4))
