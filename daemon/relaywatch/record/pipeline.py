"""text -> fingerprint -> match -> store, for the entries of one feed (polled or ingested).

Entries come prepared (``detect.prepare``, pure: often in worker processes); ``Pipeline.ingest`` matches and
writes them, all of one batch in one transaction, so an interrupted poll leaves nothing half-written.

Group commit: SQLite has one writer, and a commit costs about as much as storing ten entries
(each commit writes every index page it touched). Polls that finish while another poll is being
written wait for it, then the first of them to get the store writes all that are waiting in one
transaction, each poll in a savepoint of its own: a poll that fails is undone alone and its
thread gets its error; the others commit. (Polls of 20 entries of bench/load.py's feeds, 16 polls a
transaction: 1.7 -> 1.2 ms an entry.)

Boilerplate learned per feed (``detect.boiler``) is learned and stripped here, in the writer: what
a feed has learned depends on the order its entries arrive, and preparing runs in worker
processes. Each new entry's paragraphs are hashed (cheap) and join its feed's window; when the
feed's learned blocks are in its text, they are stripped, and the text is fingerprinted again and
its index rows read again (those a worker read were for the text with them), unless the worker
stripped the same lines already from its view of what the feed had learned (``record.learned``). What each feed
learned is kept in the store in the entry's transaction (a restart keeps it) and in memory
(``_Learned``: one small object a feed). Entries already stored are not cleaned again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from relaywatch.detect import boiler
from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect import text as textmod
from relaywatch.detect.decide import LABELS, Decision
from relaywatch.detect.prepare import METHOD, Prepared
from relaywatch.metrics import Metrics
from relaywatch.models import EntryText, Feed, Link, ParsedEntry, StoredEntry
from relaywatch.record.matcher import Matcher
from relaywatch.store import Store
from relaywatch.store.boiler import WindowRow


@dataclass
class Counts:
    new: int = 0
    updated: int = 0
    links: int = 0
    unchanged: int = 0

    def add(self, other: Counts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.links += other.links
        self.unchanged += other.unchanged


def entry_text(clean: textmod.CleanText) -> EntryText:
    """What the store keeps of a cleaned text (the store knows nothing of ``detect``)."""
    return EntryText(clean.text, clean.dateline, clean.credits, clean.sources, clean.boilerplate, clean.words)


def _same_story_text(stored: StoredEntry, entry: ParsedEntry, clean: textmod.CleanText) -> bool:
    """Whether what is kept of an entry (title, text, dateline, credit lines, relay footers) is unchanged."""
    return (stored.title, stored.text, stored.dateline, stored.credits, stored.sources) == \
        (entry.title, clean.text, clean.dateline, clean.credits, clean.sources)


@dataclass
class _Batch:
    items: list[tuple[Feed, Prepared]]
    now: datetime
    counts: Counts = field(default_factory=Counts)
    error: BaseException | None = None
    done: bool = False


class _Learned:
    """What each feed has learned of its boilerplate, loaded from the store on first use and kept
    (at most ``feeds`` feeds: one small object each), and the wires' standard lines (``protected``)."""

    def __init__(self, store: Store, feeds: int = 1024) -> None:
        self.store = store
        self.feeds = feeds
        self._states: OrderedDict[int, boiler.Learning] = OrderedDict()
        self._standard: dict[int, frozenset[int]] | None = None  # per wire feed
        self._protected: frozenset[int] | None = None

    def state(self, feed_id: int) -> boiler.Learning:
        found = self._states.get(feed_id)
        if found is None:
            rows = self.store.boiler.window(feed_id, boiler.WINDOW)
            found = boiler.Learning.of(boiler.Seen.from_blobs(r.serial, r.story, r.keys, r.long) for r in rows)
        self._keep(feed_id, found)
        return found

    def protected(self) -> frozenset[int]:
        """The standard lines of every wire feed: never stripped."""
        if self._standard is None:
            self._standard = {f.id: frozenset(self.state(f.id).standard) for f in self.store.feeds.list()
                              if f.role == "wire"}
        if self._protected is None:
            self._protected = frozenset().union(*self._standard.values())
        return self._protected

    def changed(self, feed: Feed, state: boiler.Learning) -> None:
        """The feed's state has learned an entry: a wire's standard lines may have changed."""
        standard = self._standard
        if standard is None:
            return
        if feed.role == "wire" and standard.get(feed.id) != state.standard:
            standard[feed.id] = frozenset(state.standard)
            self._protected = None
        elif feed.role != "wire" and standard.pop(feed.id, None) is not None:
            self._protected = None

    def forget_all(self) -> None:
        """After a rollback: the store holds what was learned."""
        self._states.clear()
        self._standard = self._protected = None

    def _keep(self, feed_id: int, state: boiler.Learning) -> None:
        self._states[feed_id] = state
        self._states.move_to_end(feed_id)
        while len(self._states) > self.feeds:
            self._states.popitem(last=False)


class Pipeline:
    def __init__(self, store: Store, matcher: Matcher | None = None, metrics: Metrics | None = None,
                 learn_boilerplate: bool = True) -> None:
        """``learn_boilerplate=False``: store entries as prepared (the Spark job's replay of a group
        sees a feed's entries of that group only, not the whole feed's order it would learn from)."""
        self.store = store
        self.learn_boilerplate = learn_boilerplate
        self.metrics = metrics
        self.matcher = matcher or Matcher(store)
        self.learned = _Learned(store)
        self._waiting: list[_Batch] = []
        self._waiting_lock = threading.Lock()

    def ingest(self, feed: Feed, items: Iterable[Prepared], now: datetime) -> Counts:
        """Store and match a batch of one feed's entries in one transaction."""
        return self.ingest_many(((feed, item) for item in items), now)

    def ingest_many(self, items: Iterable[tuple[Feed, Prepared]], now: datetime) -> Counts:
        """Store and match a batch of entries (of any feeds, in order) in one transaction, which
        it may share with batches of other threads (group commit); raises what this batch raised."""
        batch = _Batch(list(items), now)
        with self._waiting_lock:
            self._waiting.append(batch)
        with self.store.lock:  # the writer's lock: whoever holds it writes every batch waiting
            if not batch.done:
                with self._waiting_lock:
                    group, self._waiting = self._waiting, []
                self._write(group)
        if batch.error is not None:
            raise batch.error
        return batch.counts

    def _write(self, group: list[_Batch]) -> None:
        try:
            with self.store.transaction():
                for batch in group:
                    try:
                        with self.store.savepoint():
                            states = self._states(batch.items)
                            for feed, item in batch.items:
                                self._one(feed, item, batch.now, batch.counts, states)
                    except Exception as e:
                        batch.error = e
                        self.learned.forget_all()  # what the batch taught was undone with it
                        if not self.store.in_transaction():
                            raise  # SQLite undid the whole transaction (disk full): the group failed
        except BaseException as e:  # the commit failed: nothing of the group was written
            for batch in group:
                batch.error = batch.error or e
            raise
        finally:
            if any(b.error is not None for b in group):
                self.matcher.forget_all()  # it may hold fingerprints of entries rolled back
                self.learned.forget_all()
            for batch in group:
                batch.done = True

    def _states(self, items: list[tuple[Feed, Prepared]]) -> dict[tuple[int, str], tuple[int, str | None]]:
        """{(feed id, guid): (entry id, content hash)} of the batch's entries already stored, read in one
        query a feed (one an entry took 14 µs of the writer's time an entry); ``_one`` keeps it up to
        date as it stores them."""
        guids: dict[int, list[str]] = {}
        for feed, item in items:
            guids.setdefault(feed.id, []).append(item.entry.guid)
        return {(feed_id, g): state for feed_id, gs in guids.items()
                for g, state in self.store.entries.states(feed_id, gs).items()}

    def _one(self, feed: Feed, item: Prepared, now: datetime, counts: Counts,
             states: dict[tuple[int, str], tuple[int, str | None]]) -> None:
        key = (feed.id, item.entry.guid)
        state = states.get(key)
        if state is not None:
            self._update(feed, item, state, now, counts)
            states[key] = (state[0], item.content_hash)  # what the store holds now
            return
        e = item.entry
        if self.learn_boilerplate:
            b = item.blocks or boiler.blocks(item.before_stripping.text)
            learning = self.learned.state(feed.id)
            before = dict(learning.learned)
            seen = boiler.learn(learning, b)  # in place: a failure rebuilds it from the store (forget_all)
            item = self._stripped(item, b, boiler.removable(learning, feed.role, self.learned.protected()))
        entry_id = self.store.entries.insert(feed.id, e, entry_text(item.clean), item.content_hash, now, item.feed_text,
                                           item.article_text)
        states[key] = (entry_id, item.content_hash)
        if self.learn_boilerplate:
            self._taught(feed, entry_id, before, learning, seen, b, now)
        self.store.index.save_fingerprint(entry_id, METHOD, len(item.fp.shingles), item.fp.winnowed, item.fp.tokens)
        self.matcher.remember(entry_id, item.fp, item.layout)
        counts.new += 1
        stored = StoredEntry(id=entry_id, feed_id=feed.id, feed_name=feed.name, role=feed.role, guid=e.guid,
                             url=e.url, title=e.title, published=e.published, first_seen=now,
                             text=item.clean.text, dateline=item.clean.dateline, credits=item.clean.credits,
                             sources=item.clean.sources, credit_names=feed.credit_names(), feed_title=feed.title,
                             boilerplate=item.clean.boilerplate)
        started = time.perf_counter()
        result = self.matcher.match(stored, item.clean, item.fp, now, item.index_rows, item.layout)
        if self.metrics is not None:
            self.metrics.matched(time.perf_counter() - started)
        counts.links += self._apply(entry_id, result, now)

    def _update(self, feed: Feed, item: Prepared, state: tuple[int, str | None], now: datetime,
                counts: Counts) -> None:
        """A stored entry seen again: unchanged, or the same entry with an edited body (an update of
        that entry, never a new one; its text stripped of what its feed has learned, nothing learned)."""
        entry_id, old_hash = state
        if old_hash == item.content_hash:
            counts.unchanged += 1
            return
        e = item.entry
        stored = self.store.entries.get(entry_id)
        b = item.blocks or boiler.blocks(item.before_stripping.text)
        stripped = self._stripped(item, b, boiler.removable(self.learned.state(feed.id), feed.role,
                                                             self.learned.protected()))
        if _same_story_text(stored, e, item.before_stripping) or _same_story_text(stored, e, stripped.clean):
            # only the markup changed (attributes, tracking links; or the release that stopped
            # feedparser rewriting entry HTML): not an update; the new hash spares the next poll
            self.store.entries.set_content_hash(entry_id, item.content_hash)
            counts.unchanged += 1
            return
        item = stripped
        old = fpmod.fingerprint(stored.text).winnowed  # its rows in the index
        self.store.entries.update(entry_id, e, entry_text(item.clean), item.content_hash, now, item.feed_text,
                                  item.article_text)
        self.store.index.save_fingerprint(entry_id, METHOD, len(item.fp.shingles), item.fp.winnowed,
                                          item.fp.tokens, replaces=old)
        self.matcher.forget(entry_id)
        counts.updated += 1

    @staticmethod
    def _stripped(item: Prepared, b: boiler.Blocks, remove: frozenset[int]) -> Prepared:
        """The entry without the blocks in ``remove``. A worker that stripped the same lines
        (``record.learned``) made its fingerprint, index rows and sentences already; else its text
        is fingerprinted again, and its index rows and sentences are read again."""
        gone = boiler.removed(b, remove)
        if gone == item.stripped:
            return item
        before = item.before_stripping
        clean = boiler.strip(before, b, gone) or before
        _ = clean.words
        fp = fpmod.fingerprint(clean.text)
        return replace(item, clean=clean, fp=fp, index_rows=None, layout=None, stripped=gone,
                       unstripped=before if gone else None)

    def _taught(self, feed: Feed, entry_id: int, before: dict[int, int], after: boiler.Learning, seen: boiler.Seen,
                b: boiler.Blocks, now: datetime) -> None:
        """Store what a new entry taught its feed (its window row; the blocks learned, carried, or
        no longer learned)."""
        keys, long = seen.blobs()
        self.store.boiler.add(feed.id, entry_id, WindowRow(seen.serial, seen.story, keys, long), boiler.WINDOW)
        gone = [k for k in before if k not in after.learned]
        if gone:
            self.store.boiler.forget(feed.id, gone)
        carried = {k: after.learned[k] for k in seen.keys if k in after.learned}
        if carried:
            fresh = [k for k in carried if k not in before]
            self.store.boiler.save(feed.id, carried, boiler.samples(b, fresh) if fresh else {}, now)
        self.learned.changed(feed, after)

    def _apply(self, entry_id: int, result: Decision, now: datetime) -> int:
        if result.update_of is not None:
            self.store.entries.mark_update_of(entry_id, result.update_of)
        links: list[Link] = list(result.relinked)
        if result.link is not None:
            links.append(result.link)
        for link in links:
            self.store.links.save(link, now, LABELS)
        return len(links)
