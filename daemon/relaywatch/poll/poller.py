"""Poll one feed: fetch -> parse -> pipeline, and keep the feed's polling state in the store.

A failure of any kind is recorded on the feed (status, last error, consecutive failures, next
poll after an exponential backoff with jitter); it is never raised to the caller's loop. A
database that refuses the record (read-only, disk full, locked past the busy timeout) is logged
on one line and reported in the outcome (``recorded = False``); the next poll tries again.
A host whose politeness slot does not come free in time (``HostBusy``) defers the poll a little
without counting a failure against the feed.

CPU work (feedparser, text cleaning, fingerprints) of large polls runs in a small pool of worker
processes (``scheduler.processes``): the polling threads share one interpreter lock, processes use
every core. One task per poll: the worker parses the body, asks the store (through a read-only
connection of its own) which entries it holds unchanged, and prepares the others; the polling
thread gets back only what the matcher needs. A body identical to the last one ingested (many
servers send no ETag or Last-Modified) is not parsed again: its hash is kept on the feed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import multiprocessing
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from relaywatch.config import Config, parse_interval
from relaywatch.detect.prepare import Draft, Prepared, content_hash, draft, prepare
from relaywatch.errors import RelaywatchError
from relaywatch.metrics import Metrics
from relaywatch.models import Feed, PollOutcome
from relaywatch.poll.articles import ArticleFetcher, ArticlePolicy
from relaywatch.poll.feeds import FeedDocument, parse_feed
from relaywatch.poll.http import Fetcher, FetchError, HostBusy
from relaywatch.poll.workers import die_with_parent
from relaywatch.record.cache import MIB
from relaywatch.record.matcher import Matcher
from relaywatch.record.pipeline import Counts, Pipeline
from relaywatch.runtime import tune_gc
from relaywatch.store import Store, stored_content_hashes, utcnow

log = logging.getLogger("relaywatch.poll.poller")

RETRY_FLOOR = 60  # seconds: the shortest wait after a failure
MAX_TTL = 86400   # seconds: a feed's <ttl> or max-age longer than a day is taken as a day
BUSY_DEFER = (30, 120)  # seconds: a poll put off because its host was busy comes back within this
POOL_FROM = 8  # article texts to prepare in one poll from which the process pool is used
# Feed bodies from this size are parsed, and their new entries prepared, in the process pool (one
# task; smaller ones in the polling thread). A task costs the polling process ~1 ms of CPU; parsing
# and preparing bench/load.py's bodies of 3.6 KB (2 entries) cost 1.8 ms, of 8.8 KB (5) 5.2 ms.
POOL_BYTES = 4_096
# Article texts of one poll sent to a worker process at once; more are split between them. Each
# task costs the polling process ~1 ms of CPU (pickling, the pool's threads): a poll of 20 entries
# in 4 tasks took 5.2 ms of its CPU, in 1 task 3.5 ms (400 polls of bench/load.py's feeds).
POOL_CHUNK = 32
# The worker processes yield the CPU to this process: its one writer (matching, SQLite) is what
# limits the polling rate, and the workers only feed it.
WORKER_NICE = 10


_T = TypeVar("_T")
_R = TypeVar("_R")


class PollError(RelaywatchError):
    pass


@dataclass(frozen=True)
class FeedWork:
    """What a feed body becomes before the matcher: its document (entries left out, counted) and
    the entries new or changed since the store last saw them, in feed order: prepared on their feed
    text, or drafts (feed text cleaned) whose article page is wanted."""

    doc: FeedDocument
    entries: int
    items: tuple[Prepared | Draft, ...]
    unchanged: int


def work_on(body: bytes, url: str, headers: dict[str, str], now: datetime, max_entries: int,
            stored: Callable[[list[str]], dict[str, str]], wants_page: Callable[[str, int], bool]) -> FeedWork:
    """Parse a body, clean the text of its entries but those stored with the same content
    (``stored``: {guid: content hash} of those of the guids the store holds for the feed), and
    fingerprint those whose article page is not wanted (``wants_page(url, words of feed text)``).
    An entry taken for new here that the writer then finds unchanged costs only this work: the
    writer checks again."""
    doc = parse_feed(body, url, headers, now, max_entries)
    known = stored([e.guid for e in doc.entries]) if doc.entries else {}
    items: list[Prepared | Draft] = []
    unchanged = 0
    for entry in doc.entries:
        if known.get(entry.guid) == content_hash(entry):
            unchanged += 1  # most of a steady-state poll: no text, fingerprint or article work
            continue
        d = draft(entry)
        items.append(d if wants_page(entry.url, d.clean.words) else prepare(d))
    return FeedWork(replace(doc, entries=()), len(doc.entries), tuple(items), unchanged)


def _work_in_worker(task: tuple[bytes, str, dict[str, str], datetime, int, str, int, ArticlePolicy]) -> FeedWork:
    """``work_on`` in a worker process: the store read through a read-only connection of its own."""
    body, url, headers, now, max_entries, db_path, feed_id, policy = task
    return work_on(body, url, headers, now, max_entries,
                   lambda guids: stored_content_hashes(db_path, feed_id, guids), policy.wants)


def _prepare_pair(pair: tuple[Draft, str | None]) -> Prepared:
    return prepare(*pair)


def _worker_start() -> None:
    """Worker process start: end with the daemon (quietly, even after a SIGKILL); yield the CPU to
    the polling process (a sandbox may forbid it); the collector tuned as in the daemon. Its pool
    starts workers from poll threads, which end: the worker watches its parent itself."""
    die_with_parent(kernel=False)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)
    tune_gc()


def _db_error(e: BaseException) -> bool:
    """An error raised by SQLite itself (the store lets some through unwrapped)."""
    return type(e).__module__ == "sqlite3"


def next_interval(base: int, failures: int, max_backoff: int, rand: float, min_interval: int | None = None,
                  retry_after: float | None = None) -> float:
    """Seconds until the next poll: a pure function of the feed's state and a random number in [0, 1).

    With no failure: the feed's interval (or the longer interval the feed asked for), with up to
    10% jitter. After n consecutive failures: min(cap, max(60 s, interval / 4) * 2^(n-1)), jittered
    by +-25%, never sooner than a server's Retry-After.
    """
    if failures <= 0:
        wanted = max(base, min_interval or 0)
        return wanted * (1.0 + 0.1 * rand)
    step = max(RETRY_FLOOR, base / 4) * 2 ** min(failures - 1, 30)
    delay = min(float(max_backoff), step) * (0.75 + 0.5 * rand)
    if retry_after is not None:
        delay = max(delay, min(retry_after, float(max_backoff) * 4))
    return delay


class Poller:
    """Polls feeds with one shared Fetcher and Pipeline (thread-safe: the store serialises writes)."""

    def __init__(self, config: Config, store: Store, pipeline: Pipeline | None = None,
                 fetcher: Fetcher | None = None, rng: random.Random | None = None,
                 metrics: Metrics | None = None) -> None:
        self.config = config
        self.store = store
        self.metrics = metrics
        self.pipeline = pipeline or Pipeline(
            store, Matcher(store, cache_bytes=config.scheduler.fingerprint_cache_mb * MIB), metrics=metrics)
        self.fetcher = fetcher or Fetcher(config.fetch)
        self.articles = ArticleFetcher(self.fetcher, config.fetch, config.defaults.fetch_article,
                                       config.defaults.summary_words, config.scheduler.article_cache_mb * MIB)
        self.rng = rng or random.Random()
        self.max_backoff = parse_interval(config.defaults.max_backoff)
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def close(self) -> None:
        self.fetcher.close()
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None

    def _in_pool(self, fn: Callable[[_T], _R], items: list[_T], chunksize: int = 1) -> list[_R]:
        """``map(fn, items)`` in the worker processes. A worker that died (killed, out of memory)
        fails this poll only: the pool is made anew for the next one."""
        with self._pool_lock:
            if self._pool is None:  # spawned, not forked: this process runs threads
                self._pool = ProcessPoolExecutor(self.config.scheduler.processes,
                                                 mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_worker_start)
            pool = self._pool
        try:
            return list(pool.map(fn, items, chunksize=chunksize))
        except BrokenProcessPool as e:
            with self._pool_lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise PollError(f"a worker process died while handling this feed: {e}") from e

    def _prepare(self, pairs: list[tuple[Draft, str | None]]) -> list[Prepared]:
        """Text and fingerprints of a poll's entries, in the worker processes when the poll is large."""
        processes = self.config.scheduler.processes
        if processes < 2 or len(pairs) < POOL_FROM:
            return [_prepare_pair(p) for p in pairs]
        return self._in_pool(_prepare_pair, pairs, chunksize=max(POOL_CHUNK, -(-len(pairs) // processes)))

    def _work(self, feed: Feed, body: bytes, url: str, headers: dict[str, str], now: datetime) -> FeedWork:
        """feedparser's, text and fingerprint work on a body: in a worker process when it is large."""
        max_entries = self.config.fetch.max_entries
        policy = self.articles.policy(feed)
        if self.config.scheduler.processes < 2 or len(body) < POOL_BYTES or self.store.path == ":memory:":
            return work_on(body, url, dict(headers), now, max_entries,
                           lambda guids: self.store.entries.content_hashes(feed.id, guids), policy.wants)
        task = (body, url, dict(headers), now, max_entries, str(Path(self.store.path).resolve()), feed.id, policy)
        return self._in_pool(_work_in_worker, [task])[0]

    def _with_articles(self, items: tuple[Prepared | Draft, ...]) -> list[Prepared]:
        """The drafts among ``items`` prepared on their article's text when it could be had, else on
        their feed text; in feed order."""
        drafts = [(i, d) for i, d in enumerate(items) if isinstance(d, Draft)]
        pairs = [(d, self.articles.text_for(d.entry.url, self.store)) for _, d in drafts]
        done = dict(zip((i for i, _ in drafts), self._prepare(pairs), strict=True)) if pairs else {}
        return [done[i] if isinstance(item, Draft) else item for i, item in enumerate(items)]

    def poll(self, feed: Feed, now: datetime | None = None) -> PollOutcome:
        """Poll one feed now; returns what happened (also recorded in the store)."""
        now = now or utcnow()
        started = time.monotonic()
        outcome = PollOutcome(feed_id=feed.id, started=now)
        try:
            feed = self._poll(feed, now, outcome)
        except HostBusy as e:
            feed = self._deferred(feed, now, outcome, str(e))
        except RelaywatchError as e:
            feed = self._failed(feed, now, outcome, str(e), getattr(e, "status", None),
                                getattr(e, "retry_after", None))
        except Exception as e:  # a bug or an unforeseen input: recorded on the feed, the loop goes on
            if _db_error(e):
                log.error("feed %s: database error: %s", feed.name, e)
                message = f"database error: {e}"
            else:
                log.exception("feed %s: unexpected error", feed.name)
                message = f"internal error: {type(e).__name__}: {e}"
            feed = self._failed(feed, now, outcome, message, None, None)
        outcome.duration_ms = int((time.monotonic() - started) * 1000)
        try:
            with self.store.transaction():
                self.store.feeds.save_state(feed)
                self.store.feeds.record_poll(outcome)
        except Exception as e:  # read-only, full or locked database: one line, never a crash
            if not isinstance(e, RelaywatchError) and not _db_error(e):
                raise
            text = " ".join(str(e).split())[:300]
            log.error("feed %s: cannot record the poll in %s: %s", feed.name, self.store.path, text)
            outcome.recorded = False
            outcome.error = outcome.error or f"cannot record the poll: {text}"
        if self.metrics is not None:
            self.metrics.poll_done(feed.name, outcome)
        return outcome

    def _poll(self, feed: Feed, now: datetime, outcome: PollOutcome) -> Feed:
        res = self.fetcher.get(feed.url, feed.etag, feed.last_modified)
        outcome.http_status = res.status
        outcome.bytes = len(res.body)
        if res.moved_to and res.moved_to != feed.url:
            outcome.notes.append(f"moved permanently to {res.moved_to}")
            log.info("feed %s moved permanently to %s", feed.name, res.moved_to)
            feed = replace(feed, url=res.moved_to)
        if res.gone:
            outcome.error = "HTTP 410 Gone: the publisher removed this feed; polling stopped"
            log.warning("feed %s: %s", feed.name, outcome.error)
            return replace(feed, status="gone", last_status=410, last_error=outcome.error, last_poll=now,
                           next_poll=None)
        honor = self.config.defaults.honor_ttl
        # a 304 (or the same body again) repeats the cache headers or says nothing: keep what the
        # feed last asked for
        kept_interval = _ttl(res.max_age, None) if honor and res.max_age else (feed.min_interval if honor else None)
        if res.not_modified:
            return self._ok(feed, now, res.status, feed.etag if res.etag is None else res.etag,
                            res.last_modified or feed.last_modified, kept_interval)
        body_hash = hashlib.sha256(res.body).hexdigest()
        if body_hash == feed.body_hash:
            outcome.notes.append("same body as last time: not parsed again")
            return self._ok(feed, now, res.status, res.etag, res.last_modified, kept_interval,
                            warning=feed.last_error if feed.status == "ok" else None)
        work = self._work(feed, res.body, res.url, res.headers, now)
        doc = work.doc
        min_interval = _ttl(res.max_age, doc.ttl_seconds) if honor else None
        if doc.warning:
            outcome.notes.append(f"malformed feed, entries kept: {doc.warning}")
        feed = replace(feed, title=doc.title or feed.title)
        prepared = self._with_articles(work.items)
        counts: Counts = self.pipeline.ingest(feed, prepared, now) if prepared else Counts()
        counts.unchanged += work.unchanged
        outcome.new_entries, outcome.updated_entries, outcome.links = counts.new, counts.updated, counts.links
        if doc.warning:
            outcome.error = f"malformed feed ({work.entries} entries kept): {doc.warning}"[:400]
        return self._ok(feed, now, res.status, res.etag, res.last_modified, min_interval,
                        warning=outcome.error, body_hash=body_hash)

    def _ok(self, feed: Feed, now: datetime, status: int, etag: str | None, last_modified: str | None,
            min_interval: int | None, warning: str | None = None, body_hash: str | None = None) -> Feed:
        delay = next_interval(feed.interval, 0, self.max_backoff, self.rng.random(), min_interval)
        return replace(feed, status="ok", etag=etag, last_modified=last_modified, failures=0,
                       last_error=warning, last_status=status, last_poll=now,
                       next_poll=now + timedelta(seconds=delay), min_interval=min_interval,
                       body_hash=body_hash or feed.body_hash)

    def _deferred(self, feed: Feed, now: datetime, outcome: PollOutcome, message: str) -> Feed:
        """The host was busy: try again soon, without a failure against the feed."""
        outcome.error = " ".join(f"deferred: {message}".split())[:400]
        delay = BUSY_DEFER[0] + (BUSY_DEFER[1] - BUSY_DEFER[0]) * self.rng.random()
        host = urlsplit(feed.url).hostname
        if host:  # a host that asked every client to wait (Retry-After): come back after that
            delay += self.fetcher.limiter.blocked_for(host)
        log.info("feed %s: %s (next try in %ds)", feed.name, outcome.error, delay)
        return replace(feed, next_poll=now + timedelta(seconds=delay))

    def _failed(self, feed: Feed, now: datetime, outcome: PollOutcome, message: str, status: int | None,
                retry_after: float | None) -> Feed:
        message = " ".join(message.split())[:400]
        outcome.error = message
        outcome.http_status = status if status is not None else outcome.http_status
        failures = feed.failures + 1
        delay = next_interval(feed.interval, failures, self.max_backoff, self.rng.random(), None, retry_after)
        log.warning("feed %s: %s (failure %d, next try in %ds)", feed.name, message, failures, delay)
        return replace(feed, status="error", failures=failures, last_error=message, last_status=status,
                       last_poll=now, next_poll=now + timedelta(seconds=delay))


def _ttl(max_age: int | None, ttl: int | None) -> int | None:
    """The interval the publisher asks for (the longer of max-age and <ttl>), at most a day."""
    wanted = max(max_age or 0, ttl or 0)
    return min(wanted, MAX_TTL) if wanted > 0 else None


__all__ = ["Poller", "next_interval", "FetchError"]
