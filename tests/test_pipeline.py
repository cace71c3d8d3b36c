"""Pipeline: batches of concurrent polls share one transaction (group commit), each undone alone."""

from __future__ import annotations

import html
import pickle
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest
from relaywatch.detect.prepare import Prepared, prepare
from relaywatch.models import Feed, ParsedEntry
from relaywatch.record.pipeline import Counts, Pipeline
from relaywatch.store import Store

from .matchcases import STORY

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _items(feed: str, n: int, text: list[str]) -> list[Prepared]:
    return [prepare(ParsedEntry(guid=f"{feed}-{i}", url=f"https://{feed}.example.com/{i}", title=f"{feed} {i}",
                                html="".join(f"<p>{html.escape(p)}</p>" for p in text) + f"<p>Entry {i}.</p>",
                                published=NOW - timedelta(hours=10 - i), published_raw=None, date_flag=None))
            for i in range(n)]


def test_waiting_polls_are_written_in_one_transaction_and_fail_alone(store: Store) -> None:
    pipeline = Pipeline(store)
    wire = store.feeds.ensure("wire", "wire")
    ledger = store.feeds.ensure("ledger", "outlet")
    ghost = Feed(id=9999, name="ghost", url="", role="outlet")  # not in the database: its inserts fail
    batches = [(wire, _items("wire", 1, STORY)), (ghost, _items("ghost", 2, ["Another story, told briefly."] * 3)),
               (ledger, _items("ledger", 1, STORY))]
    commits: list[str] = []
    store.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    results: dict[str, Counts | BaseException] = {}

    def poll(feed: Feed, items: list[Prepared]) -> None:
        try:
            results[feed.name] = pipeline.ingest(feed, items, NOW)
        except Exception as e:
            results[feed.name] = e

    threads = [threading.Thread(target=poll, args=b) for b in batches]
    with store.lock:  # another poll is being written: these three wait, then go in together
        for t in threads:
            t.start()
        while len(pipeline._waiting) < 3:
            threading.Event().wait(0.01)
    for t in threads:
        t.join(10)
    store.conn.set_trace_callback(None)

    assert commits == ["COMMIT"]
    assert isinstance(results["ghost"], sqlite3.IntegrityError)
    assert isinstance(results["wire"], Counts) and results["wire"].new == 1
    assert isinstance(results["ledger"], Counts) and results["ledger"].new == 1
    assert store.count("entries") == 2
    assert store.query("SELECT o.guid AS original, c.guid AS copy FROM reposts r JOIN entries o ON o.id = r.original_id"
                       " JOIN entries c ON c.id = r.copy_id") == [{"original": "wire-0", "copy": "ledger-0"}]
    assert store.query("SELECT count(*) AS n FROM entries WHERE feed_id = 9999") == [{"n": 0}]


def test_a_lone_poll_raises_its_own_error_and_the_next_one_writes(store: Store) -> None:
    pipeline = Pipeline(store)
    with pytest.raises(sqlite3.IntegrityError):
        pipeline.ingest(Feed(id=9999, name="ghost", url="", role="outlet"), _items("ghost", 1, STORY), NOW)
    assert not store.in_transaction() and store.count("entries") == 0
    counts = pipeline.ingest(store.feeds.ensure("wire", "wire"), _items("wire", 2, STORY), NOW)
    assert (counts.new, store.count("entries")) == (2, 2)


def test_a_change_of_markup_alone_is_not_an_update(store: Store) -> None:
    """Same guid, new HTML but the same title, text and credit lines (attributes, a tracking link):
    counted unchanged, its new hash kept so the next poll skips it; a changed sentence is an update."""
    pipeline = Pipeline(store)
    feed = store.feeds.ensure("wire", "wire")

    def item(body: str) -> Prepared:
        return prepare(ParsedEntry(guid="g", url="https://wire.example.com/g", title="Harbour closed", html=body,
                                   published=NOW, published_raw=None, date_flag=None))

    first = "<p>The harbour closed at dawn after the storm.</p><p>Ferries will resume on Monday.</p>"
    restyled = ('<p class="lead" style="x">The harbour closed at <a href="https://t.example/?u=1">dawn</a> after'
                ' the storm.</p><p>Ferries will resume on Monday.</p>')
    assert pipeline.ingest(feed, [item(first)], NOW).new == 1
    counts = pipeline.ingest(feed, [item(restyled)], NOW + timedelta(hours=1))
    assert (counts.unchanged, counts.updated) == (1, 0)
    assert store.entries.content_hashes(feed.id, ["g"]) == {"g": item(restyled).content_hash}
    assert store.query("SELECT text FROM entries")[0]["text"] == item(first).clean.text
    corrected = restyled.replace("Monday", "Tuesday")
    counts = pipeline.ingest(feed, [item(corrected)], NOW + timedelta(hours=2))
    assert (counts.unchanged, counts.updated) == (0, 1)
    assert "Tuesday" in store.query("SELECT text FROM entries")[0]["text"] and store.count("entries") == 1


def test_prepare_counts_words_where_it_runs_and_the_count_travels_with_the_text() -> None:
    # prepare runs in worker processes; the writer reads clean.words (article fetching, the
    # entries row) and must not split the text again
    entry = ParsedEntry(guid="g", url="https://a.example/1", title="T", html="".join(f"<p>{p}</p>" for p in STORY),
                        published=NOW, published_raw=None, date_flag=None)
    back = pickle.loads(pickle.dumps(prepare(entry)))
    assert back.clean.__dict__["words"] == len(" ".join(STORY).split())


def test_one_batch_holding_an_entry_and_its_edits_stores_it_once_and_updates_it(store: Store) -> None:
    """What a batch finds stored is read once for the batch, and kept up to date as it stores."""
    pipeline = Pipeline(store)
    ledger = store.feeds.ensure("ledger", "outlet")
    first = _items("ledger", 1, STORY)[0]
    edited = _items("ledger", 1, STORY[:-1])[0]
    counts = pipeline.ingest(ledger, [first, edited, edited, first], NOW)
    assert (counts.new, counts.updated, counts.unchanged) == (1, 2, 1)
    assert store.query("SELECT count(*) AS n, min(content_hash) AS h FROM entries") == [
        {"n": 1, "h": first.content_hash}]
    counts = pipeline.ingest(ledger, [first, edited], NOW)
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 1)
