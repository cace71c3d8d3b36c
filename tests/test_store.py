"""Store: new fingerprints wait as blobs on their entry's row and in memory, are found by
``candidates`` all the same, merge into the index in bulk, and survive rollbacks, restarts and a
second writer on the same file; the full-text index catches up in batches; other threads read
without waiting for the writer."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from relaywatch.models import EntryText, IndexRows, ParsedEntry
from relaywatch.store import Store, entries, index, stored_content_hashes
from relaywatch.store.index import IndexReader

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _entry(store: Store, guid: str, hashes: list[int]) -> int:
    feed = store.feeds.ensure("wire", "wire")
    with store.transaction():
        eid = store.entries.insert(feed.id, ParsedEntry(guid=guid, url="", title=guid, html="x", published=NOW,
                                                      published_raw=None, date_flag=None),
                                 EntryText(f"text of {guid}"), guid, NOW)
        store.index.save_fingerprint(eid, "test", len(hashes), np.array(hashes, dtype=np.int64), 10)
    return eid


def _shared(store: Store, hashes: np.ndarray, per_hash: int, exclude: int | None = None) -> dict[int, int]:
    """{entry id: fingerprints shared} of ``Store.index.candidates`` (without their rarity)."""
    return {eid: n for eid, (n, _) in store.index.candidates(hashes, per_hash, exclude).items()}


def _pending(store: Store) -> int:
    return store.count("fingerprint_pending")


def test_pending_fingerprints_are_candidates_before_and_after_the_merge(store: Store) -> None:
    a = _entry(store, "a", [1, 2, 3])
    b = _entry(store, "b", [2, 3, 4])
    query = np.array([2, 3, 9], dtype=np.int64)
    assert store.count("fingerprint_index") == 0 and _pending(store) == 2
    before = _shared(store, query, 64)
    assert before == {a: 2, b: 2}
    assert store.index.flush() == 2
    assert store.count("fingerprint_index") == 6 and _pending(store) == 0
    assert _shared(store, query, 64) == before
    c = _entry(store, "c", [3, 9])  # one pending entry beside indexed ones
    assert _shared(store, query, 64) == {a: 2, b: 2, c: 2}
    assert _shared(store, query, 64, exclude=c) == {a: 2, b: 2}  # a new entry does not find itself
    store.index.flush()
    assert _shared(store, query, 64, exclude=c) == {a: 2, b: 2}


def test_a_hash_counts_its_oldest_entries_across_index_and_pending(store: Store) -> None:
    ids = [_entry(store, f"e{i}", [7, 100 + i]) for i in range(3)]
    store.index.flush()
    ids += [_entry(store, f"e{i}", [7, 100 + i]) for i in range(3, 5)]
    assert _shared(store, np.array([7], dtype=np.int64), 4) == {i: 1 for i in ids[:4]}
    assert _shared(store, np.array([7], dtype=np.int64), 2) == {i: 1 for i in ids[:2]}
    assert _shared(store, np.array([7], dtype=np.int64), 5, exclude=ids[4]) == {i: 1 for i in ids[:4]}


def test_pending_fingerprints_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with Store(db) as first:
        eid = _entry(first, "a", [11, 12])
    with Store(db) as again:
        assert _shared(again, np.array([12], dtype=np.int64), 64) == {eid: 1}
        assert _pending(again) == 1


def test_a_part_undone_takes_its_pending_fingerprints_with_it(store: Store) -> None:
    kept = _entry(store, "kept", [5, 6])
    feed = store.feeds.ensure("wire", "wire")
    with store.transaction():
        with pytest.raises(RuntimeError), store.savepoint():
            eid = store.entries.insert(feed.id, ParsedEntry(guid="gone", url="", title="", html="y", published=NOW,
                                                          published_raw=None, date_flag=None),
                                     EntryText("gone"), "gone", NOW)
            store.index.save_fingerprint(eid, "test", 2, np.array([6, 8], dtype=np.int64), 10)
            assert _shared(store, np.array([8], dtype=np.int64), 64) == {eid: 1}
            raise RuntimeError("this poll failed")
        assert _shared(store, np.array([6, 8], dtype=np.int64), 64) == {kept: 1}
    assert _shared(store, np.array([6, 8], dtype=np.int64), 64) == {kept: 1}


def test_a_rolled_back_transaction_leaves_no_pending_fingerprint(store: Store) -> None:
    feed = store.feeds.ensure("wire", "wire")
    with pytest.raises(RuntimeError), store.transaction():
        eid = store.entries.insert(feed.id, ParsedEntry(guid="gone", url="", title="", html="y", published=NOW,
                                                      published_raw=None, date_flag=None),
                                 EntryText("gone"), "gone", NOW)
        store.index.save_fingerprint(eid, "test", 1, np.array([8], dtype=np.int64), 10)
        raise RuntimeError("disk full")
    assert _shared(store, np.array([8], dtype=np.int64), 64) == {}


def test_enough_pending_entries_are_merged_at_a_commit(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index, "FLUSH_ENTRIES", 3)
    _entry(store, "a", [1])
    _entry(store, "b", [2])
    assert store.count("fingerprint_index") == 0 and _pending(store) == 2
    _entry(store, "c", [3])
    assert store.count("fingerprint_index") == 3 and _pending(store) == 0


def test_two_writers_on_one_file_see_each_others_fingerprints_once(tmp_path: Path) -> None:
    db = tmp_path / "two.db"
    with Store(db) as daemon, Store(db) as backfill:
        a = _entry(daemon, "a", [21, 22])
        assert _shared(backfill, np.array([21, 22], dtype=np.int64), 64) == {a: 2}
        b = _entry(backfill, "b", [22, 23])
        assert _shared(daemon, np.array([22, 23], dtype=np.int64), 64) == {a: 1, b: 2}
        backfill.index.flush()  # merged by the other store: counted once, from the index
        assert _shared(daemon, np.array([21, 22, 23], dtype=np.int64), 64) == {a: 2, b: 2}
        c = _entry(daemon, "c", [23])
        assert _shared(backfill, np.array([23], dtype=np.int64), 64) == {b: 1, c: 1}


def test_an_updated_entry_is_found_by_its_new_fingerprints_only(store: Store) -> None:
    eid = _entry(store, "a", [31, 32])
    store.index.flush()
    with store.transaction():
        store.index.save_fingerprint(eid, "test", 2, np.array([32, 33], dtype=np.int64), 10,
                               replaces=np.array([31, 32], dtype=np.int64))
    assert store.count("fingerprint_index") == 0
    assert _shared(store, np.array([31], dtype=np.int64), 64) == {}
    assert _shared(store, np.array([32, 33], dtype=np.int64), 64) == {eid: 2}


def test_a_fingerprint_weighs_one_over_the_entries_counted_for_it(store: Store) -> None:
    stock = [_entry(store, f"stock{i}", [50, 60 + i]) for i in range(4)]  # a stock line (hash 50) in four entries
    story = _entry(store, "story", [51, 52])
    query = np.array([50, 51], dtype=np.int64)

    def weighed() -> dict[int, tuple[int, float]]:
        return {eid: (n, round(w, 6)) for eid, (n, w) in store.index.candidates(query, 3).items()}

    # per hash at most 3 entries: hash 50 counts its three oldest, a third each; 51 is the story's alone
    expected = {stock[0]: (1, 0.333333), stock[1]: (1, 0.333333), stock[2]: (1, 0.333333), story: (1, 1.0)}
    assert weighed() == expected  # all pending
    store.index.flush()
    assert weighed() == expected  # all in the index
    late = _entry(store, "late", [51])  # a pending entry beside the index: 51 is held by two now
    assert weighed() == {**expected, story: (1, 0.5), late: (1, 0.5)}


def test_pending_index_agrees_with_a_plain_map_through_adds_updates_and_removals() -> None:
    """Hashes held by one entry and by several, entries re-added with other hashes, removals:
    ``waiting`` and ``rows`` give what a plain {hash: [entry ids]} map gives."""
    import random

    from relaywatch.store.pending import PendingIndex

    rng = random.Random(7)
    index, plain = PendingIndex(), {}
    for step in range(3000):
        eid = rng.randrange(1, 60)
        if rng.random() < 0.2:
            index.remove(eid)
            plain.pop(eid, None)
        else:
            hashes = sorted(rng.sample(range(200), rng.randrange(1, 12)))
            index.add(eid, np.array(hashes, dtype=np.int64))
            plain[eid] = hashes
        query, exclude = rng.sample(range(200), 20), rng.choice([None, eid])
        want = {h: sorted(e for e, hs in plain.items() if h in hs and e != exclude) for h in query}
        assert {h: sorted(ids) for h, ids in index.waiting(query, exclude).items()} == \
            {h: ids for h, ids in want.items() if ids}, step
    assert list(index.rows()) == sorted((h, e) for e, hs in plain.items() for h in hs)
    assert len(index) == len(plain)


def _article(store: Store, guid: str, text: str, entry_id: int | None = None) -> int:
    """Store (or, given ``entry_id``, rewrite) an entry titled ``guid`` with ``text``, in a transaction."""
    feed = store.feeds.ensure("wire", "wire")
    entry = ParsedEntry(guid=guid, url="", title=guid, html=text, published=NOW, published_raw=None,
                        date_flag=None)
    with store.transaction():
        if entry_id is None:
            return store.entries.insert(feed.id, entry, EntryText(text), text, NOW)
        store.entries.update(entry_id, entry, EntryText(text), text, NOW)
        return entry_id


def _found(store: Store, word: str) -> list[str]:
    """Titles the full-text index finds for ``word`` as it stands (``search_entries`` does not catch up)."""
    return sorted(r["title"] for r in store.reports.search(word))


def test_full_text_index_catches_up_in_bulk(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entries, "FTS_BATCH", 3)
    a = _article(store, "a", "walrus colony grows")
    b = _article(store, "b", "walrus tusks found")
    assert _found(store, "walrus") == []  # two wait: fewer than a batch
    _article(store, "b", "narwhal tusks found", b)  # edited while waiting: indexed as it is now
    _article(store, "c", "walrus census")  # the third: its transaction indexes all three
    assert (_found(store, "walrus"), _found(store, "narwhal"), _found(store, "tusks")) == (["a", "c"], ["b"], ["b"])
    _article(store, "a", "seal colony grows", a)  # edited once indexed: taken out and put back at once
    _article(store, "d", "walrus again")
    assert (_found(store, "seal"), _found(store, "walrus")) == (["a"], ["c"])
    assert store.entries.index_text() == 1
    assert _found(store, "walrus") == ["c", "d"]
    assert store.entries.index_text() == 0
    store.conn.execute("INSERT INTO entries_fts (entries_fts) VALUES ('integrity-check')")  # raises if out of step


def test_entries_rolled_back_are_not_indexed(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entries, "FTS_BATCH", 1)
    feed = store.feeds.ensure("wire", "wire")
    entry = ParsedEntry(guid="x", url="", title="x", html="", published=NOW, published_raw=None, date_flag=None)
    with pytest.raises(RuntimeError), store.transaction():
        store.entries.insert(feed.id, entry, EntryText("walrus lost"), "h", NOW)
        raise RuntimeError("poll failed")
    kept = _article(store, "kept", "walrus kept")  # takes the id the rolled-back entry had
    assert _found(store, "walrus") == ["kept"] and _found(store, "lost") == []
    assert store.entries.get(kept).text == "walrus kept"
    store.conn.execute("INSERT INTO entries_fts (entries_fts) VALUES ('integrity-check')")


def test_other_threads_read_the_last_commit_without_waiting_for_the_writer(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    feed = store.feeds.ensure("wire", "wire")
    seen: dict[str, object] = {}
    try:
        with store.transaction():
            eid = store.entries.insert(feed.id, ParsedEntry(guid="g", url="", title="t", html="x", published=NOW,
                                                          published_raw=None, date_flag=None),
                                     EntryText("text"), "hash", NOW)
            seen["writer"] = store.entries.state(feed.id, "g")  # its own transaction: sees what it wrote
            reader = threading.Thread(target=lambda: seen.update(
                other=store.entries.state(feed.id, "g"), feed=store.feeds.get(feed.id).name))
            reader.start()
            reader.join(5)  # the writer still holds its transaction: a read that waited for it would hang
            assert not reader.is_alive()
        assert seen == {"writer": (eid, "hash"), "other": None, "feed": "wire"}
        assert store.entries.state(feed.id, "g") == (eid, "hash")  # committed: every thread sees it
    finally:
        store.close()


def _weighed(store: Store, query: np.ndarray, per_hash: int, indexed: IndexRows | None = None,
             exclude: int | None = None) -> dict[int, tuple[int, float]]:
    hits = store.index.candidates(query, per_hash, exclude, indexed=indexed)
    return {eid: (n, round(w, 9)) for eid, (n, w) in hits.items()}


@pytest.mark.parametrize("kept", [0, 3])
def test_index_rows_read_earlier_give_the_candidates_of_a_look_up_now(
        store: Store, monkeypatch: pytest.MonkeyPatch, kept: int) -> None:
    """What an ingest worker read (``IndexReader``) before later entries, updates and merges, with
    what the writer holds in memory, gives what the writer's own look-up gives; rows read before
    more merges than the writer keeps are looked up again."""
    import random

    monkeypatch.setattr(index, "FLUSH_ENTRIES", 5)
    store.index.merges_kept = kept  # 0: the daemon's store; an ingest keeps 8
    rng = random.Random(11)
    reader = IndexReader(store.path, 4)
    current: dict[int, list[int]] = {}
    reads: list[tuple[np.ndarray, IndexRows]] = []
    for step in range(300):
        hashes = sorted(rng.sample(range(40), rng.randrange(1, 6)))  # a few hashes, many entries each
        if current and rng.random() < 0.1:  # an entry updated: its old rows leave the index
            eid = rng.choice(list(current))
            with store.transaction():
                store.index.save_fingerprint(eid, "test", len(hashes), np.array(hashes, dtype=np.int64), 10,
                                       replaces=np.array(current[eid], dtype=np.int64))
        else:
            eid = _entry(store, f"e{step}", hashes)
        current[eid] = hashes
        query = np.array(sorted(rng.sample(range(40), 6)), dtype=np.int64)
        rows = reader.rows(query)
        assert rows is not None
        reads.append((query, rows))
        for query, rows in rng.sample(reads, min(4, len(reads))) + reads[-1:]:
            assert _weighed(store, query, 4, rows) == _weighed(store, query, 4), step
            assert _weighed(store, query, 4, rows, exclude=eid) == _weighed(store, query, 4, exclude=eid), step
    reader.close()


def test_index_rows_read_before_another_writer_merged_are_looked_up_again(tmp_path: Path) -> None:
    db = tmp_path / "two.db"
    with Store(db) as ingest, Store(db) as daemon:
        ingest.index.merges_kept = 8
        a = _entry(ingest, "a", [1, 2])
        ingest.index.flush()
        query = np.array([1, 2, 3], dtype=np.int64)
        rows = IndexReader(str(db), 64).rows(query)
        assert rows is not None and rows.rows.tolist() == [[1, a], [2, a]]
        b = _entry(daemon, "b", [2, 3])
        daemon.index.flush()  # merged by the other store: this one does not hold b in memory
        assert _weighed(ingest, query, 64, rows) == _weighed(ingest, query, 64) == {a: (2, 1.5), b: (2, 1.5)}


def test_an_index_reader_of_a_missing_database_reads_nothing(tmp_path: Path) -> None:
    reader = IndexReader(str(tmp_path / "absent.db"), 64)
    assert reader.rows(np.array([1, 2], dtype=np.int64)) is None


def test_worker_reads_open_a_database_given_by_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Store("rel.db") as store:
        a = _entry(store, "a", [1])
        store.index.flush()
        rows = IndexReader("rel.db", 64).rows(np.array([1], dtype=np.int64))
        assert rows is not None and rows.rows.tolist() == [[1, a]]
        assert stored_content_hashes("rel.db", store.feeds.ensure("wire", "wire").id, ["a"]) == {"a": "a"}
