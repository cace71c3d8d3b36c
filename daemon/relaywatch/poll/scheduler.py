"""The daemon: APScheduler 3 runs one job per feed; ``poll_once`` runs the same polls once, now.

Each feed's job polls it and then moves its own next run to the feed's ``next_poll`` as stored
(the backoff, a feed's TTL and the configured interval all live there), so a restart resumes
the schedule where it stopped. SIGTERM/SIGINT stop the scheduler and wait for polls in flight.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor as APThreadPool
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from relaywatch.config import Config
from relaywatch.errors import RelaywatchError
from relaywatch.metrics import Metrics
from relaywatch.models import Feed, PollOutcome
from relaywatch.poll.poller import Poller
from relaywatch.store import Store, utcnow

log = logging.getLogger("relaywatch.poll.scheduler")

# Feeds due when the daemon starts are released START_SPACING seconds apart, in name order (at most
# START_SPREAD seconds in all), so that a start does not queue every request at one instant. The
# spacing is well under what the pipeline takes in (~40 first polls of 20 entries a second on two
# cores), so it never idles it: at 0.05 s, bench/load.py's first 30 s ran at half speed.
START_SPACING = 0.01
START_SPREAD = 30.0
TEXT_INDEX_EVERY = 60  # seconds between the daemon's catch-ups of the full-text index (Store.entries.index_text)

ACTIVE = ("new", "ok", "error")


def sync_feeds(config: Config, store: Store) -> list[Feed]:
    """Make the store's feed list agree with the config; returns the feeds to poll.

    Feeds added by ``feeds add`` / ``import-opml`` stay; a config feed removed from the file is
    marked ``removed`` (its entries and links are kept).
    """
    names = set()
    for f in config.feeds:
        store.feeds.upsert(f.name, f.url, f.role, f.credit, f.interval, "config", f.fetch_article)
        names.add(f.name)
    for feed in store.feeds.list():
        if feed.source == "config" and feed.name not in names and feed.status != "removed":
            store.feeds.remove(feed.name)
    return [f for f in store.feeds.list() if f.status in ACTIVE and f.source != "ingest"]


def poll_once(config: Config, store: Store, only_due: bool = False, names: list[str] | None = None,
              now: datetime | None = None) -> list[tuple[Feed, PollOutcome]]:
    """Poll every active feed once, now (the daemon's code path, run in a thread pool)."""
    feeds = sync_feeds(config, store)
    if names:
        unknown = set(names) - {f.name for f in feeds}
        if unknown:
            raise RelaywatchError(f"no active feed named {', '.join(sorted(unknown))}")
        feeds = [f for f in feeds if f.name in names]
    now = now or utcnow()
    if only_due:
        feeds = [f for f in feeds if f.next_poll is None or f.next_poll <= now]
    poller = Poller(config, store)
    try:
        with ThreadPoolExecutor(max_workers=config.scheduler.workers) as pool:
            outcomes = list(pool.map(lambda f: poller.poll(f), feeds))
    finally:
        poller.close()
        index_text(store)
    return list(zip(feeds, outcomes, strict=True))


def index_text(store: Store) -> None:
    """Bring the full-text index up to date; a failure is logged (the entries wait for the next try)."""
    try:
        n = store.entries.index_text()
    except RelaywatchError as e:
        log.error("full-text index not brought up to date: %s", " ".join(str(e).split())[:300])
        return
    if n:
        log.debug("full-text index: %d entries added", n)


def _notify(message: str) -> None:
    """sd_notify(3) for Type=notify units; a no-op outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(address)
            s.sendall(message.encode())
    except OSError as e:
        log.debug("sd_notify failed: %s", e)


class Daemon:
    """The long-running service: feed jobs plus any extra jobs (the digest) on one scheduler."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.metrics = Metrics() if config.metrics.listen else None
        self.poller = Poller(config, store, metrics=self.metrics)
        self.scheduler = BackgroundScheduler(
            executors={"default": APThreadPool(config.scheduler.workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone="UTC")
        self.stopped = threading.Event()
        self.extra_jobs: list[Callable[[BackgroundScheduler], None]] = []

    def _job(self, feed_id: int) -> None:
        if self.stopped.is_set():
            return
        feed = self.store.feeds.get(feed_id)
        if feed.status not in ACTIVE:
            self._unschedule(feed_id)
            return
        outcome = self.poller.poll(feed)
        if not outcome.recorded:
            # the database refused the record (read-only, full, locked): the stored next_poll is
            # stale, so keep the job's own interval instead of re-running it at once (issue 6)
            return
        feed = self.store.feeds.get(feed_id)
        if feed.next_poll is None or feed.status not in ACTIVE:
            self._unschedule(feed_id)
        elif not self.stopped.is_set():
            with contextlib.suppress(JobLookupError):
                self.scheduler.modify_job(f"feed-{feed_id}", next_run_time=feed.next_poll)

    def _unschedule(self, feed_id: int) -> None:
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(f"feed-{feed_id}")

    def schedule(self, now: datetime | None = None) -> int:
        now = now or utcnow()
        feeds = sync_feeds(self.config, self.store)
        due = 0
        for feed in feeds:
            if feed.next_poll and feed.next_poll > now:
                first = feed.next_poll
            else:
                first = now + timedelta(seconds=min(due * START_SPACING, START_SPREAD))
                due += 1
            self.scheduler.add_job(self._job, IntervalTrigger(seconds=feed.interval,
                                                              jitter=self.config.scheduler.jitter or None),
                                   args=[feed.id], id=f"feed-{feed.id}", name=f"poll {feed.name}",
                                   next_run_time=first, replace_existing=True)
        self.scheduler.add_job(index_text, IntervalTrigger(seconds=TEXT_INDEX_EVERY), args=[self.store],
                               id="index-text", name="full-text index", replace_existing=True)
        for add in self.extra_jobs:
            add(self.scheduler)
        return len(feeds)

    def start(self) -> int:
        n = self.schedule()
        if self.metrics is not None:
            host, port = self.metrics.serve(self.config.metrics.listen)
            log.info("metrics on http://%s:%d/metrics", host, port)
        self.scheduler.start()
        log.info("relaywatch started: %d feeds, database %s", n, self.store.path)
        _notify(f"READY=1\nSTATUS=polling {n} feeds")
        return n

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        _notify("STOPPING=1")
        log.info("relaywatch stopping: waiting for polls in flight")
        try:
            self.scheduler.shutdown(wait=True)
        except Exception as e:  # already stopped
            log.debug("scheduler shutdown: %s", e)
        self.poller.close()
        if self.metrics is not None:
            self.metrics.stop()
        index_text(self.store)

    def run_forever(self) -> None:
        """Start, then block until SIGTERM or SIGINT; shut down cleanly."""
        wake = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            log.info("received %s", signal.Signals(signum).name)
            wake.set()

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not wake.wait(3600):
                pass
        finally:
            self.stop()
            for s, h in old.items():
                signal.signal(s, h)
