"""The store's side of a decision: it supplies a new entry's candidates to ``detect.decide`` and
hands back the decision. Nothing is decided here.

For each new entry: the index's candidates (``Store.index.candidates``), ``decide.shortlist``; the
shortlisted entries, the originals of those that are copies, and their fingerprints (kept in a
bounded cache: an entry read back is usually read again soon); ``decide.assess``; the chosen
group's links and members; ``decide.decide``.

The entries read back are kept too (the most recently read, within ``ENTRY_CACHE_BYTES``): on
the first 20,000 entries of bench/throughput.py's set, 74% of the entries read had been read
before, 89% within the last 2,000 stored, and their reading was 6% of the writer's time. An entry
kept is forgotten when its text changes (``forget``), and all are when the store's feeds change
(an entry carries its feed's name, title, role and credit names) or a transaction is undone
(``forget_all``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime

from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect.decide import Decision, Group, Known, MatchParams, New, assess, decide, shortlist
from relaywatch.detect.reuse import Layout
from relaywatch.detect.text import CleanText
from relaywatch.models import IndexRows, StoredEntry
from relaywatch.record.cache import MIB, ByteLRU, entry_bytes, fingerprint_bytes
from relaywatch.store import Store

LAYOUTS = 4096  # stored entries' layouts kept (a few KB each), the most recently used
ENTRY_CACHE_BYTES = 16 * MIB  # stored entries kept as read, the most recently used (~5,000 Reuters stories)


class Matcher:
    """Matches entries against a store. Keeps a cache of fingerprints within ``cache_bytes``."""

    def __init__(self, store: Store, params: MatchParams | None = None, cache_bytes: int = 128 * MIB) -> None:
        self.store = store
        self.params = params or MatchParams()
        self._fps: ByteLRU[int, fpmod.Fingerprint] = ByteLRU(cache_bytes, fingerprint_bytes)
        self._layouts: OrderedDict[int, Layout] = OrderedDict()  # of stored entries whose sentences were read
        self._entries: ByteLRU[int, StoredEntry] = ByteLRU(ENTRY_CACHE_BYTES, entry_bytes)
        self._feeds_version = store.feeds.version

    # -- fingerprint cache ----------------------------------------------------------------

    def remember(self, entry_id: int, fp: fpmod.Fingerprint, lay: Layout | None = None) -> None:
        """Keep a stored entry's fingerprint, and its layout when read (a new entry's, as its worker
        read it: a wire story is read again as the original of each of its copies)."""
        self._fps.put(entry_id, fp)
        if lay is not None:
            self._keep_layout(entry_id, lay)

    def forget(self, entry_id: int) -> None:
        self._fps.pop(entry_id)
        self._layouts.pop(entry_id, None)
        self._entries.pop(entry_id)

    def forget_all(self) -> None:
        """After a rollback: entry ids may be given again to other entries."""
        self._fps.clear()
        self._layouts.clear()
        self._entries.clear()

    def fingerprint(self, entry: StoredEntry) -> fpmod.Fingerprint:
        cached = self._fps.get(entry.id)
        if cached is None:
            cached = fpmod.fingerprint(entry.text, index=False)
            self.remember(entry.id, cached)
        return cached

    def known(self, ids: Iterable[int]) -> dict[int, Known]:
        """Stored entries with their fingerprints, by id (those that exist), in id order."""
        entries = self._read(ids)
        return {i: Known(e, self.fingerprint(e), self._layout(i)) for i, e in entries}

    def _read(self, ids: Iterable[int]) -> list[tuple[int, StoredEntry]]:
        """The stored entries of these ids, kept ones first, the rest read (and kept), in id order."""
        if self.store.feeds.version != self._feeds_version:
            self._feeds_version = self.store.feeds.version
            self._entries.clear()
        found: dict[int, StoredEntry] = {}
        missing = []
        for i in ids:
            e = self._entries.get(i)
            if e is None:
                missing.append(i)
            else:
                found[i] = e
        if missing:
            for i, e in self.store.entries.get_many(missing).items():
                found[i] = e
                self._entries.put(i, e)
        return sorted(found.items())

    def _layout(self, entry_id: int) -> Layout | None:
        lay = self._layouts.get(entry_id)
        if lay is not None:
            self._layouts.move_to_end(entry_id)
        return lay

    def _keep_layout(self, entry_id: int, lay: Layout) -> None:
        self._layouts[entry_id] = lay
        self._layouts.move_to_end(entry_id)
        while len(self._layouts) > LAYOUTS:
            self._layouts.popitem(last=False)

    def _keep_layouts(self, known: Iterable[Known]) -> None:
        """Keep the layouts read for this decision (a wire story is read against each of its copies)."""
        for k in known:
            if k.layout_read and k.given_layout is None:
                self._keep_layout(k.id, k.layout)

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
            self._keep_layouts(known.values())
            return Decision(update_of=found.update_of)
        decision = decide(subject, found, known, self.group(found.root, found.every_member), p)
        self._keep_layouts(known.values())
        return decision

    def group(self, root_id: int, every_member: bool) -> Group:
        """The copies of ``root_id`` with their entries: every one (``every_member``), or only those
        linked with no ``via`` whose relay footer names a source (one query less per link)."""
        if every_member:
            links = tuple(self.store.links.of_original(root_id))
        else:
            links = tuple(self.store.links.named_orphans(root_id))
        return Group(links, self.known(link.copy_id for link in links))
