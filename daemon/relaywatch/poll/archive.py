"""Backfill from archives: ``relaywatch ingest FILE.jsonl [--feeds FEEDS.json]``.

Each line is one entry (``feed``, ``role``, ``guid``, ``url``, ``title``, ``published``, ``html`` or
``text``); entries go through exactly the pipeline that polled entries take, in file order, a
batch per transaction. Re-ingesting a file adds nothing. A bad line is reported (file:line and
why) and skipped; the rest is ingested.
"""

from __future__ import annotations

import html as htmlmod
import json
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from relaywatch.config import ROLES, check_name
from relaywatch.detect.prepare import Prepared, prepare
from relaywatch.errors import RelaywatchError
from relaywatch.models import Feed, ParsedEntry
from relaywatch.poll.feeds import check_date, entry_identity
from relaywatch.poll.workers import die_with_parent
from relaywatch.record.learned import LearnedView
from relaywatch.record.pipeline import Counts, Pipeline
from relaywatch.store import Store, utcnow
from relaywatch.store.index import RECENT_MERGES, IndexReader

log = logging.getLogger("relaywatch.poll.archive")

BATCH = 500
WINDOW = 1000  # lines prepared ahead per worker window


class IngestError(RelaywatchError):
    exit_code = 2


@dataclass(frozen=True)
class FeedSpec:
    name: str
    role: str
    credit: tuple[str, ...] = ()


@dataclass
class IngestReport:
    lines: int = 0
    bad: int = 0
    counts: Counts = field(default_factory=Counts)
    errors: list[str] = field(default_factory=list)


def load_feed_specs(path: str | Path) -> dict[str, FeedSpec]:
    """FEEDS.json: a list of {name, role, credit}."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise IngestError(f"{path}: cannot read feeds list: {e}") from e
    if not isinstance(raw, list):
        raise IngestError(f"{path}: must be a JSON list of {{name, role, credit}}")
    specs = {}
    for i, item in enumerate(raw, 1):
        try:
            name = check_name(str(item["name"]))
            role = str(item.get("role", "outlet"))
            if role not in ROLES:
                raise ValueError(f"role must be one of {', '.join(ROLES)}: {role!r}")
            credit = item.get("credit") or []
            if not isinstance(credit, list):
                raise ValueError("credit must be a list of names")
        except (KeyError, TypeError, ValueError) as e:
            raise IngestError(f"{path}: feed #{i}: {e}") from e
        specs[name] = FeedSpec(name, role, tuple(str(c) for c in credit))
    return specs


def parse_line(line: str, now: datetime) -> tuple[str, str | None, ParsedEntry]:
    """(feed name, role or None, entry) from one JSONL line; ValueError saying what is wrong."""
    try:
        obj: Any = json.loads(line)
    except ValueError as e:
        raise ValueError(f"not JSON: {e}") from e
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    feed = obj.get("feed")
    if not isinstance(feed, str) or not feed:
        raise ValueError("no 'feed'")
    check_name(feed)
    role = obj.get("role")
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}: {role!r}")
    if isinstance(obj.get("html"), str):
        markup = obj["html"]
    elif isinstance(obj.get("text"), str):
        markup = "".join(f"<p>{htmlmod.escape(p)}</p>" for p in obj["text"].split("\n\n") if p.strip())
    else:
        raise ValueError("no 'html' or 'text'")
    title = str(obj.get("title") or "")
    url = str(obj.get("url") or "")
    raw_date = obj.get("published")
    dt = None
    if isinstance(raw_date, str) and raw_date:
        try:
            dt = datetime.fromisoformat(raw_date.replace("Z", "+00:00"))
            dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
        except ValueError:
            dt = None
    published, flag = check_date(dt, raw_date if isinstance(raw_date, str) else None, now)
    guid = entry_identity(obj.get("guid") if isinstance(obj.get("guid"), str) else None, url, title, markup)
    return feed, role, ParsedEntry(guid=guid, url=url, title=title, html=markup, published=published,
                                   published_raw=raw_date if isinstance(raw_date, str) else None,
                                   date_flag=flag)


@dataclass
class _WorkerView:
    """A worker process's read-only view of the store: its index, and what each feed has learned
    of its boilerplate (``record.learned``)."""

    index: IndexReader
    learned: LearnedView


# The worker process's view (``_start_worker``); None in the ingesting process itself, which reads
# the index through its own connection and strips learned lines in its writer.
_view: _WorkerView | None = None


def _start_worker(index: tuple[str, int] | None) -> None:
    """A worker's start: it ends quietly with the ingesting process (``workers.die_with_parent``);
    ``index``: (database path, rows per fingerprint) to look texts up in, or None."""
    global _view
    die_with_parent()
    if index is not None:
        _view = _WorkerView(IndexReader(*index), LearnedView(index[0]))


def _prepare(args: tuple[int, str, datetime]) -> tuple[int, str | None, str | None, ParsedEntry | None,
                                                       Prepared | None]:
    lineno, line, now = args
    try:
        feed, role, entry = parse_line(line, now)
    except ValueError as e:
        return lineno, str(e), None, None, None
    if _view is None:
        return lineno, feed, role, entry, prepare(entry)
    # its feed's learned lines stripped and its fingerprints looked up here rather than by the writer
    item = prepare(entry, remove=_view.learned.removable(feed))
    return lineno, feed, role, entry, replace(item, index_rows=_view.index.rows(item.fp.winnowed))


def _prepared_lines(path: Path, now: datetime, workers: int,
                    index: tuple[str, int] | None = None) -> Iterator[tuple[int, str | None, str | None,
                                                                            ParsedEntry | None, Prepared | None]]:
    """The file's lines, parsed and prepared (by ``workers`` processes; 0: by this one), in order;
    ``index``: (database path, rows per fingerprint) for the workers to look the texts up in.

    At most two windows of ``WINDOW`` lines are in flight, so memory stays bounded however large
    the file and however far the workers run ahead of the matcher. A ``ProcessPoolExecutor``, not a
    ``multiprocessing.Pool``: the Pool's worker-handling thread wakes whenever a result waits to be
    read (it waits on the result pipe too) and takes the GIL from the writer, 43 µs of CPU an entry
    on the first 20,000 entries of bench/throughput.py's set (ingest 934 -> 1,032 entries/s there);
    and a worker that dies (killed, out of memory) ends the ingest with an error, where the Pool
    waited for its lost results for ever.
    """
    with path.open(encoding="utf-8", errors="replace") as f:
        lines = ((no, line, now) for no, line in enumerate(f, 1) if line.strip())
        if workers <= 0:
            yield from map(_prepare, lines)
            return
        with ProcessPoolExecutor(workers, multiprocessing.get_context("fork"), _start_worker, (index,)) as pool:
            pending: deque[Iterator[Any]] = deque()
            while True:
                while len(pending) < 2:
                    window = list(islice(lines, WINDOW))
                    if not window:
                        break
                    pending.append(pool.map(_prepare, window, chunksize=32))
                if not pending:
                    return
                try:
                    yield from pending.popleft()
                except BrokenProcessPool as e:
                    raise IngestError(f"{path}: a worker process ended abruptly; what was ingested before is"
                                      " stored: run the same command again to go on") from e


def default_workers() -> int:
    """Worker processes for an ingest: one fewer than the cores this process may use (the other is
    the writer's), at most two. The writer (matching and SQLite) costs more than preparing text
    does (1.0 against 0.85 ms an entry), so one worker keeps up with it and more only wait for it;
    on two cores a second one takes CPU from it: on this project's 2-core benchmark machine, 48,644
    entries ingested at 836-969 entries/s with one worker process and 712-863 with two, runs taken
    in turn (with the release of 3 December: 855 and 801)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(0, min(2, cores - 1))


class ProgressLine:
    """``ingest``'s progress on a terminal, without tqdm: one line on ``out`` (stderr), rewritten in
    place at most ten times a second: entries done (of ``total`` when known), share, rate. Use it
    only when ``out`` is a TTY; ``update`` is the ``progress`` callback of :func:`ingest_file`."""

    def __init__(self, total: int | None, out: TextIO, label: str = "ingest", unit: str = "entries") -> None:
        self.total, self.out, self.label, self.unit = total, out, label, unit
        self.done = 0
        self._start = self._shown = time.monotonic()
        self._show()

    def update(self, n: int = 1) -> None:
        self.done += n
        if time.monotonic() - self._shown >= 0.1:
            self._show()

    def close(self) -> None:
        self._show()
        self.out.write("\n")
        self.out.flush()

    def _show(self) -> None:
        self._shown = now = time.monotonic()
        rate = self.done / (now - self._start) if now > self._start else 0.0
        of = f"/{self.total:,} ({100 * self.done / self.total:.0f}%)" if self.total else ""
        self.out.write(f"\r{self.label}: {self.done:,}{of} {self.unit}, {rate:,.0f}/s\x1b[K")
        self.out.flush()


def _feed(store: Store, feeds: dict[str, Feed], specs: dict[str, FeedSpec], name: str, role: str | None) -> Feed:
    """The feed of an archive's line, made on first sight (its role and credit from ``specs``)."""
    feed = feeds.get(name)
    if feed is None:
        spec = specs.get(name)
        feed = feeds[name] = store.feeds.ensure(name, spec.role if spec else (role or "outlet"),
                                                spec.credit if spec else ())
    return feed


def ingest_file(store: Store, path: str | Path, specs: dict[str, FeedSpec] | None = None,
                pipeline: Pipeline | None = None, workers: int = 0,
                progress: Callable[[int], None] | None = None) -> IngestReport:
    """Ingest a JSONL archive through the polling pipeline; returns what it did. ``workers``:
    processes that parse lines and prepare their text (0: this one does)."""
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    specs = specs or {}
    pipeline = pipeline or Pipeline(store)
    now = utcnow()
    report = IngestReport()
    feeds: dict[str, Feed] = {}
    batch: list[tuple[Feed, Prepared]] = []

    def flush() -> None:
        if batch:
            report.counts.add(pipeline.ingest_many(batch, now))
            if progress:
                progress(len(batch))
            batch.clear()

    index = (store.path, pipeline.matcher.params.per_hash) if store.path != ":memory:" and workers > 0 else None
    kept = store.index.merges_kept
    if index:  # the workers look texts up ahead of the writer: it keeps what it merged since
        store.index.merges_kept = max(kept, RECENT_MERGES)
    try:
        for lineno, feed_name, role, _entry, item in _prepared_lines(path, now, workers, index):
            report.lines += 1
            if item is None:
                report.bad += 1
                msg = f"{path}:{lineno}: skipped: {feed_name}"
                report.errors.append(msg)
                log.warning("%s", msg)
                if progress:
                    progress(1)
                continue
            assert feed_name is not None
            batch.append((_feed(store, feeds, specs, feed_name, role), item))
            if len(batch) >= BATCH:
                flush()
        flush()
    finally:
        store.index.merges_kept = kept
    store.entries.index_text()
    return report
