"""Poll one feed: fetch -> parse -> pipeline, and keep the feed's polling state in the store.

A failure of any kind is recorded on the feed (status, last error, consecutive failures, next
poll after an exponential backoff with jitter); it is never raised to the caller's loop.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import replace
from datetime import datetime, timedelta

from .articles import ArticleFetcher
from .config import Config, parse_interval
from .errors import RelaywatchError
from .feeds import parse_feed
from .fetch import Fetcher, FetchError
from .models import Feed, PollOutcome
from .pipeline import Counts, Pipeline, prepare
from .store import Store, utcnow

log = logging.getLogger("relaywatch.poll")

RETRY_FLOOR = 60  # seconds: the shortest wait after a failure


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
                 fetcher: Fetcher | None = None, rng: random.Random | None = None) -> None:
        self.config = config
        self.store = store
        self.pipeline = pipeline or Pipeline(store)
        self.fetcher = fetcher or Fetcher(config.fetch)
        self.articles = ArticleFetcher(self.fetcher, config.fetch, config.defaults.fetch_article,
                                       config.defaults.summary_words)
        self.rng = rng or random.Random()
        self.max_backoff = parse_interval(config.defaults.max_backoff)

    def close(self) -> None:
        self.fetcher.close()

    def poll(self, feed: Feed, now: datetime | None = None) -> PollOutcome:
        """Poll one feed now; returns what happened (also recorded in the store)."""
        now = now or utcnow()
        started = time.monotonic()
        outcome = PollOutcome(feed_id=feed.id, started=now)
        try:
            feed = self._poll(feed, now, outcome)
        except RelaywatchError as e:
            feed = self._failed(feed, now, outcome, str(e), getattr(e, "status", None),
                                getattr(e, "retry_after", None))
        except Exception as e:  # a bug or an unforeseen input: recorded on the feed, the loop goes on
            log.exception("feed %s: unexpected error", feed.name)
            feed = self._failed(feed, now, outcome, f"internal error: {type(e).__name__}: {e}", None, None)
        outcome.duration_ms = int((time.monotonic() - started) * 1000)
        try:
            with self.store.transaction():
                self.store.save_feed_state(feed)
                self.store.record_poll(outcome)
        except RelaywatchError as e:
            log.error("feed %s: cannot record the poll: %s", feed.name, e)
            outcome.error = outcome.error or str(e)
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
        min_interval = feed.min_interval
        if self.config.defaults.honor_ttl and res.max_age:
            min_interval = res.max_age
        if res.not_modified:
            return self._ok(feed, now, res.status, feed.etag if res.etag is None else res.etag,
                            res.last_modified or feed.last_modified, min_interval)
        doc = parse_feed(res.body, res.url, res.headers, now, self.config.fetch.max_entries)
        if self.config.defaults.honor_ttl and doc.ttl_seconds:
            min_interval = max(min_interval or 0, doc.ttl_seconds)
        if doc.warning:
            outcome.notes.append(f"malformed feed, entries kept: {doc.warning}")
        feed = replace(feed, title=doc.title or feed.title)
        prepared = []
        for entry in doc.entries:
            article = self.articles.text_for(feed, entry, self.store)
            prepared.append(prepare(entry, article))
        counts: Counts = self.pipeline.ingest(feed, prepared, now)
        outcome.new_entries, outcome.updated_entries, outcome.links = counts.new, counts.updated, counts.links
        if doc.warning:
            outcome.error = f"malformed feed ({len(doc.entries)} entries kept): {doc.warning}"[:400]
        return self._ok(feed, now, res.status, res.etag, res.last_modified, min_interval,
                        warning=outcome.error)

    def _ok(self, feed: Feed, now: datetime, status: int, etag: str | None, last_modified: str | None,
            min_interval: int | None, warning: str | None = None) -> Feed:
        delay = next_interval(feed.interval, 0, self.max_backoff, self.rng.random(), min_interval)
        return replace(feed, status="ok", etag=etag, last_modified=last_modified, failures=0,
                       last_error=warning, last_status=status, last_poll=now,
                       next_poll=now + timedelta(seconds=delay), min_interval=min_interval)

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


__all__ = ["Poller", "next_interval", "FetchError"]
