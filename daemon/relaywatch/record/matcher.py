"""The store's side of a decision: it supplies a new entry's candidates to ``detect.decide`` and
hands back the decision. Nothing is decided here.

For each new entry: the index's candidates (``Store.index.candidates``), ``decide.shortlist``; the
shortlisted entries, the originals of those that are copies, and their fingerprints (kept in a
bounded cache: an entry read back is usually read again soon); ``decide.assess``; the chosen
group's links and members; ``decide.decide``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect.decide import Decision, Group, Known, MatchParams, New, assess, decide, shortlist
from relaywatch.detect.reuse import Layout
from relaywatch.detect.text import CleanText
from relaywatch.models import IndexRows, StoredEntry
from relaywatch.record.cache import MIB, ByteLRU, fingerprint_bytes
from relaywatch.store import Store


class Matcher:
    """Matches entries against a store. Keeps a cache of fingerprints within ``cache_bytes``."""

    def __init__(self, store: Store, params: MatchParams | None = None, cache_bytes: int = 128 * MIB) -> None:
        self.store = store
        self.params = params or MatchParams()
        self._fps: ByteLRU[int, fpmod.Fingerprint] = ByteLRU(cache_bytes, fingerprint_bytes)

    # -- fingerprint cache ----------------------------------------------------------------

    def remember(self, entry_id: int, fp: fpmod.Fingerprint) -> None:
        self._fps.put(entry_id, fp)

    def forget(self, entry_id: int) -> None:
        self._fps.pop(entry_id)

    def forget_all(self) -> None:
        """After a rollback: entry ids may be given again to other entries."""
        self._fps.clear()

    def fingerprint(self, entry: StoredEntry) -> fpmod.Fingerprint:
        cached = self._fps.get(entry.id)
        if cached is None:
            cached = fpmod.fingerprint(entry.text, index=False)
            self.remember(entry.id, cached)
        return cached

    def known(self, ids: Iterable[int]) -> dict[int, Known]:
        """Stored entries with their fingerprints, by id (those that exist)."""
        return {i: Known(e, self.fingerprint(e)) for i, e in self.store.entries.get_many(ids).items()}

    # -- one new entry ----------------------------------------------------------------------

    def match(self, new: StoredEntry, clean: CleanText, fp: fpmod.Fingerprint, now: datetime,
              indexed: IndexRows | None = None, lay: Layout | None = None) -> Decision:
        """``indexed``: the index's rows of ``fp`` as a worker process read them (``IndexReader``);
        ``lay``: the text's sentences and quotes, as a worker read them."""
        p = self.params
        hits = self.store.index.candidates(fp.winnowed, p.per_hash, exclude=new.id, indexed=indexed)
        ids = shortlist(hits, len(fp.winnowed), p)
        if not ids:
            return Decision()
        originals = self.store.links.originals_of(ids)
        known = self.known(dict.fromkeys([*ids, *originals.values()]))
        subject = New(new, clean, fp, lay)
        found = assess(subject, [known[i] for i in ids if i in known], originals, known, p)
        if found.root is None:
            return Decision(update_of=found.update_of)
        return decide(subject, found, known, self.group(found.root, found.every_member), p)

    def group(self, root_id: int, every_member: bool) -> Group:
        """The copies of ``root_id`` with their entries: every one (``every_member``), or only those
        linked with no ``via`` whose relay footer names a source (one query less per link)."""
        if every_member:
            links = tuple(self.store.links.of_original(root_id))
        else:
            links = tuple(self.store.links.named_orphans(root_id))
        return Group(links, self.known(link.copy_id for link in links))
