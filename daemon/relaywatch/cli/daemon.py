"""The commands that store entries: run, poll, demo, ingest (main.py tunes the interpreter for them)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click

from relaywatch.cli.common import CliState, command, outcome_line, pass_state
from relaywatch.cli.parse import WORKERS
from relaywatch.models import PollOutcome
from relaywatch.poll.archive import ProgressLine


@command("run", "run the daemon in the foreground (systemd runs this)")
@pass_state
def run_cmd(state: CliState) -> None:
    """Run the daemon in the foreground: poll each feed when due, record reposts, send the daily
    digest (if [digest] names recipients). Logs at INFO level unless --quiet; SIGTERM or Ctrl-C
    stops it once the polls in flight are done."""
    from relaywatch.poll.scheduler import Daemon
    from relaywatch.report.digest import add_digest_job

    config = state.config
    with state.store() as store:
        daemon = Daemon(config, store)

        def digest_job(scheduler: Any) -> None:
            add_digest_job(scheduler, config, store, metrics=daemon.metrics)

        daemon.extra_jobs.append(digest_job)
        daemon.run_forever()


@command("poll", "poll the feeds that are due (--once: every feed, now) and exit")
@click.option("--once", is_flag=True, help="poll every active feed now")
@click.option("--feed", "names", multiple=True, metavar="NAME", help="only this feed (repeatable)")
@pass_state
def poll_cmd(state: CliState, once: bool, names: tuple[str, ...]) -> int:
    """Poll the feeds that are due (with --once: every active feed), print one line per feed, exit.
    Exits 1 when any feed failed or a poll could not be stored, after a line on stderr saying how
    many and why (for cron jobs and systemd timers)."""
    from relaywatch.poll.scheduler import poll_once

    with state.store() as store:
        results = poll_once(state.config, store, only_due=not once, names=list(names) or None)
    for feed, outcome in results:
        print(outcome_line(feed.name, outcome))
    if not results:
        print("no feed is due (use --once to poll every feed now)")
    summary = failure_summary([outcome for _, outcome in results])
    if summary:
        print(f"relaywatch: {summary}", file=sys.stderr)
        return 1
    return 0


def _failed(o: PollOutcome) -> bool:
    """A poll that got nothing from its feed (a kept malformed feed or a busy host are no failure)."""
    return o.error is not None and o.recorded and not o.error.startswith(("malformed feed", "deferred:"))


def _why(error: str) -> str:
    """The kind of a failure: 'HTTP 404 Not Found', 'cannot connect to host:80', 'timed out after 30s'."""
    return error.split(": ")[0].split(" (")[0][:80]


def _counted(reasons: list[str]) -> str:
    return ", ".join(f"{n} {why}" for why, n in Counter(reasons).most_common())


def failure_summary(outcomes: list[PollOutcome]) -> str | None:
    """One line saying how many polls failed or could not be stored, and why; None if none did."""
    failed = [_why(o.error or "") for o in outcomes if _failed(o)]
    unstored = [(o.error or "").rsplit(": ", 1)[-1][:80] for o in outcomes if not o.recorded]  # SQLite's reason
    parts = []
    if failed:
        parts.append(f"{len(failed)} of {len(outcomes)} feeds failed ({_counted(failed)})")
    if unstored:
        parts.append(f"{len(unstored)} of {len(outcomes)} polls could not be stored ({_counted(unstored)})")
    return "; ".join(parts) or None


@command("ingest", "backfill entries from a JSONL archive")
@click.argument("file")
@click.option("--feeds", "feeds_file", metavar="FEEDS.json",
              help="a JSON list of {name, role, credit}, one per feed of the archive")
@click.option("--workers", type=WORKERS, default=None, metavar="N",
              help="processes preparing text, beside the one matching and writing, 0 to 64 "
                   "(default: cores - 1, at most 2)")
@pass_state
def ingest_cmd(state: CliState, file: str, feeds_file: str | None, workers: int | None) -> None:
    """Backfill entries from FILE, a JSONL archive (one entry per line), matching them as the
    daemon would. Shows a progress bar on a terminal unless --quiet."""
    from relaywatch.poll.archive import default_workers, ingest_file, load_feed_specs

    specs = load_feed_specs(feeds_file) if feeds_file else {}
    bar = _progress_bar(file) if sys.stderr.isatty() and not state.quiet else None
    try:
        with state.store() as store:
            n = default_workers() if workers is None else workers
            report = ingest_file(store, file, specs, workers=n, progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    c = report.counts
    print(f"{report.lines} lines: {c.new} new entries, {c.updated} updated, {c.unchanged} unchanged, "
          f"{c.links} links, {report.bad} skipped")


def _progress_bar(file: str) -> ProgressLine:
    """A progress line on stderr, its total the archive's non-blank lines (if FILE is a file)."""
    total = None
    if Path(file).is_file():
        with Path(file).open(encoding="utf-8", errors="replace") as f:
            total = sum(1 for line in f if line.strip())
    return ProgressLine(total, sys.stderr)


@command("demo", "serve the bundled sample feeds on 127.0.0.1, poll them, show the reposts")
@pass_state
def demo_cmd(state: CliState) -> None:
    """Serve the bundled sample feeds on 127.0.0.1:8765, poll them once into the configured
    database and print the reposts found (no internet needed)."""
    from relaywatch.demo import run_demo
    from relaywatch.report.tables import RepostQuery, reposts, reposts_table

    config = state.config
    with state.store() as store:
        results = run_demo(config, store)
        rows = reposts(store, RepostQuery())
    for feed, outcome in results:
        print(outcome_line(feed.name, outcome))
    print()
    print(f"{len(rows)} reposts recorded in {config.database.path}:")
    print(reposts_table(rows))


COMMANDS: tuple[click.Command, ...] = (run_cmd, poll_cmd, ingest_cmd, demo_cmd)
