"""``relaywatch ingest``: archives go through the polling pipeline; bad lines are skipped, not fatal."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from relaywatch.poll import archive as archive_mod
from relaywatch.poll.archive import IngestError, ingest_file, load_feed_specs
from relaywatch.report.tables import reposts
from relaywatch.store import Store

from .matchcases import STORY

WIRE = "\n\n".join(STORY)


def line(feed: str, guid: str, text: str, published: str, **extra: str) -> str:
    return json.dumps({"feed": feed, "guid": guid, "url": f"https://{feed}.example.com/{guid}", "title": guid,
                       "published": published, "text": text, **extra})


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "archive.jsonl"
    path.write_text("\n".join([
        line("meridian", "a", WIRE, "2026-11-24T16:00:00Z"),
        "{not json",
        json.dumps({"feed": "ledger", "guid": "x", "title": "no text"}),
        line("ledger", "copy", WIRE + "\n\nSource: Meridian Wire", "2026-11-24T19:30:00Z"),
        line("echo", "excerpt", "\n\n".join(STORY[:3]), "2026-11-24T21:00:00+01:00"),
        "",
    ]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.json"
    path.write_text(json.dumps([{"name": "meridian", "role": "wire", "credit": ["Meridian Wire"]},
                                {"name": "ledger", "role": "outlet"}, {"name": "echo", "role": "relay"}]))
    return path


def test_ingest_links_copies_and_reports_bad_lines(store: Store, archive: Path, specs: Path) -> None:
    report = ingest_file(store, archive, load_feed_specs(specs))
    assert (report.lines, report.bad, report.counts.new, report.counts.links) == (5, 2, 3, 2)
    assert report.errors == [f"{archive}:2: skipped: not JSON: Expecting property name enclosed in double quotes:"
                             " line 1 column 2 (char 1)", f"{archive}:3: skipped: no 'html' or 'text'"]
    got = {(r["copy_feed"], r["original_feed"], r["kind"], r["credited"]) for r in reposts(store)}
    assert got == {("ledger", "meridian", "verbatim", True), ("echo", "meridian", "excerpt", False)}
    lag = {r["copy_feed"]: r["lag_seconds"] for r in reposts(store)}
    assert lag == {"ledger": 3.5 * 3600, "echo": 4 * 3600}  # +01:00 converted to UTC
    # the run leaves every entry in the full-text index (search_entries itself does not catch up)
    assert {r["feed"] for r in store.reports.search("Kestrel")} == {"meridian", "ledger", "echo"}


def test_reingesting_the_same_file_adds_nothing(store: Store, archive: Path, specs: Path) -> None:
    ingest_file(store, archive, load_feed_specs(specs))
    tables = ("entries", "reposts", "fingerprints", "fingerprint_index", "fingerprint_pending")
    before = [store.count(t) for t in tables]
    assert before[0] == before[2] == before[4] == 3  # each entry's fingerprints wait to be merged
    again = ingest_file(store, archive, load_feed_specs(specs))
    assert (again.counts.new, again.counts.updated, again.counts.unchanged, again.counts.links) == (0, 0, 3, 0)
    assert [store.count(t) for t in tables] == before


def test_worker_processes_give_the_same_result(tmp_path: Path, archive: Path, specs: Path) -> None:
    results = []
    for workers in (0, 1, 2):  # none (this process prepares the text), one, two
        with Store(tmp_path / f"w{workers}.db") as s:
            report = ingest_file(s, archive, load_feed_specs(specs), workers=workers)
            links = sorted((r["copy_url"], r["original_url"], r["kind"]) for r in reposts(s))
            results.append((report.lines, report.bad, report.errors, report.counts, links))
    assert results[0] == results[1] == results[2]
    assert results[0][:2] == (5, 2) and len(results[0][2]) == 2 and len(results[0][4]) == 2


def test_feed_roles_come_from_the_feeds_list(store: Store, archive: Path, specs: Path) -> None:
    ingest_file(store, archive, load_feed_specs(specs))
    feed = store.feeds.by_name("echo")
    assert feed is not None and feed.role == "relay"


@pytest.mark.parametrize("content, message", [
    ("{}", "must be a JSON list of {name, role, credit}"),
    ('[{"name": "a", "role": "blog"}]', "feed #1: role must be one of wire, outlet, relay: 'blog'"),
    ("[oops", "cannot read feeds list"),
])
def test_a_bad_feeds_list_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "feeds.json"
    path.write_text(content)
    with pytest.raises(IngestError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_feed_specs(path)


def test_missing_archive_is_an_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file"):
        ingest_file(store, tmp_path / "nope.jsonl")


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc to find the worker")
def test_worker_of_a_killed_ingest_ends_quietly(tmp_path: Path) -> None:
    """``relaywatch ingest`` as a real process with one worker, killed with SIGKILL mid-ingest: its
    worker process ends too, and prints nothing (it used to print a BrokenPipeError traceback)."""
    archive = tmp_path / "big.jsonl"
    words = WIRE.split()
    with archive.open("w", encoding="utf-8") as f:
        for i in range(20_000):  # distinct texts: far more work than the seconds this test waits
            text = " ".join(words[(i + k * 7) % len(words)] for k in range(160)) + f" number{i}"
            f.write(line("outlet", f"g{i}", text, "2026-11-24T16:00:00Z") + "\n")
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\npath = "{tmp_path / "big.db"}"\n', encoding="utf-8")
    script = Path(sys.executable).parent / "relaywatch"
    stderr = (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen([str(script), "--config", str(config), "-q", "ingest", str(archive), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        workers: list[int] = []
        entries = 0
        for _ in range(600):  # until the worker is up and the first batch is written: at most 60 s
            workers = _children(proc.pid)
            with contextlib.suppress(sqlite3.Error), sqlite3.connect(tmp_path / "big.db", timeout=1) as conn:
                entries = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
            if workers and entries:
                break
            time.sleep(0.1)
        assert workers and entries and proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for _ in range(300):  # the orphan goes within 30 s, or the test fails
            if not any(_running(w) for w in workers):
                break
            time.sleep(0.1)
        assert not any(_running(w) for w in workers)
    finally:
        proc.kill()
        stderr.close()
    assert (tmp_path / "stderr.txt").read_text() == ""


_prepare = archive_mod._prepare


def _dies_on_line_4(args: tuple[int, str, object]) -> object:
    """A worker's ``_prepare`` that ends its process abruptly on line 4 (killed, out of memory)."""
    if args[0] == 4:
        os._exit(1)
    return _prepare(args)  # type: ignore[arg-type]


def test_a_worker_that_dies_ends_the_ingest_with_one_clear_error(tmp_path: Path, archive: Path, specs: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_mod, "_prepare", _dies_on_line_4)  # the workers are forked: they see it
    with Store(tmp_path / "w.db") as store, \
            pytest.raises(IngestError, match=r"archive.jsonl: a worker process ended abruptly; .* run the same"):
        ingest_file(store, archive, load_feed_specs(specs), workers=1)
    monkeypatch.undo()
    with Store(tmp_path / "w.db") as store:  # run again: it goes on
        report = ingest_file(store, archive, load_feed_specs(specs), workers=1)
        assert store.count("reposts") == 2 and report.bad == 2
