"""The Spark job's tasks and ``store.bulk`` without Spark: the same functions chained in plain Python
(as the driver chains them through shuffles) give the links ``ingest`` gives, and ``import`` loads
them. Runs where there is no Java; ``test_spark.py`` runs them on Spark itself."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from relaywatch.detect.decide import MatchParams
from relaywatch.poll.archive import ingest_file, load_feed_specs
from relaywatch.spark import tasks
from relaywatch.spark.replay import replay_partition
from relaywatch.store import Store
from relaywatch.store.bulk import EXPORTED

from .test_ingest import WIRE, line

NOW = datetime(2026, 12, 1, tzinfo=UTC)
IDS = ("id", "original_id", "copy_id", "via_id", "detected_at")
LINKS = ("SELECT r.*, o.url AS original_url, c.url AS copy_url, v.url AS via_url FROM reposts r"
         " JOIN entries o ON o.id = r.original_id JOIN entries c ON c.id = r.copy_id"
         " LEFT JOIN entries v ON v.id = r.via_id ORDER BY c.url")


def job_in_python(lines: list[str], specs: dict[str, Any], p: MatchParams) -> tuple[list[Any], dict[str, Any]]:
    """The job's stages on one 'partition', its shuffles done with dicts: output rows and feeds."""
    prepared = list(tasks.prepare_lines((("file:/a.jsonl", 0, x) for x in lines), NOW))
    ok = {row[2] + 1: row for row in prepared if row[3] == "ok"}
    top: dict[int, list[int]] = defaultdict(list)
    for entry_id, row in ok.items():
        for h in row[10]:
            top[h] = tasks.oldest(top[h], entry_id, p.per_hash)
    rows = defaultdict(list)
    for entry_id, row in ok.items():
        for h in row[10]:
            for new, old, n in tasks.index_rows(entry_id, top[h], p.per_hash):
                rows[new].append((old, n))
    short = [s for new, r in rows.items() for s in tasks.shortlist_one(new, ok[new][9], r, p)]
    pairs = [(new, c, rank, n, w, ok[new][11], ok[c][11]) for new, c, rank, n, w in short]
    by_entry = defaultdict(list)
    for new, c, rank, n, w, rel in tasks.confirm_pairs(pairs, p):
        by_entry[new].append((c, rank, n, w, rel))
    found = dict(kv for kv in (tasks.related_of(e, ps, p) for e, ps in by_entry.items()) if kv[1])
    comp = {e: e for e in ok}
    for _ in range(len(ok)):  # labels: the smallest id of the component
        for e, fs in found.items():
            low = min(comp[e], *(comp[c] for c, _, _ in fs))
            for x in (e, *(c for c, _, _ in fs)):
                comp[x] = low
    feeds = {}
    for entry_id in sorted(ok):
        name, role = ok[entry_id][5], ok[entry_id][6]
        spec = specs.get(name)
        feeds.setdefault(name, (spec.role, spec.credit) if spec else (role or "outlet", ()))
    with Store(":memory:") as s:
        columns = {t: s.bulk.columns(t) for t in EXPORTED}
    todo = sorted((comp[e], e, ok[e][12], found.get(e)) for e in ok)
    return list(replay_partition(todo, NOW, feeds, p, columns)), feeds


def as_dicts(rows: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Output tuples as the Parquet rows ``relaywatch import`` reads: entries and links."""
    with Store(":memory:") as s:
        cols = {t: s.bulk.columns(t) for t in EXPORTED}
    names = ["feed" if c.references == "feeds" else c.name for c in cols["entries"]]
    names += [f"fp_{c.name}" for c in cols["fingerprints"] if c.name != "entry_id"] + ["hashes"]
    link_names = [c.name for c in cols["reposts"] if c.name != "id"]
    entries = sorted((dict(zip(names, r[:-1], strict=True)) for r in rows), key=lambda e: e["id"])  # as written
    links = [dict(zip(link_names, r[-1], strict=True)) for r in rows if r[-1] is not None]
    return entries, links


def test_the_tasks_chained_give_ingests_links_and_import_loads_them(tmp_path: Path) -> None:
    specs_path = tmp_path / "feeds.json"
    specs_path.write_text(json.dumps([{"name": "meridian", "role": "wire", "credit": ["Meridian Wire"]},
                                      {"name": "echo", "role": "relay"}]))
    paras = WIRE.split("\n\n")
    lines = [line("ledger", "copy", WIRE + "\n\nSource: Meridian Wire", "2026-11-24T19:30:00Z"),
             "{not json",
             line("other", "unrelated", "Tide tables for the week ahead were published on Monday by the harbour"
                  " office, with the usual warnings for the spring tides.", "2026-11-24T10:00:00Z"),
             line("meridian", "a", WIRE, "2026-11-24T16:00:00Z"),  # the wire, stored after its copy
             line("echo", "relay", "\n\n".join(paras[:3]) + "\n\nfrom Ledger via IFTTT", "2026-11-24T21:00:00Z"),
             ""]
    archive = tmp_path / "a.jsonl"
    archive.write_text("\n".join(lines) + "\n", encoding="utf-8")
    specs = load_feed_specs(specs_path)
    rows, feeds = job_in_python(lines, specs, MatchParams())
    entries, links = as_dicts(rows)
    assert [e["id"] for e in entries] == [1, 3, 4, 5]  # archive line numbers; line 2 is bad
    with Store(tmp_path / "ingest.db") as by_ingest, Store(tmp_path / "spark.db") as by_spark:
        ingest_file(by_ingest, archive, specs)
        done = by_spark.bulk.import_rows([(n, r, c) for n, (r, c) in feeds.items()], entries, links)
        assert (done.entries, done.links, done.fingerprints, done.feeds) == (4, 2, 4, 4)
        expected = [{k: v for k, v in r.items() if k not in IDS} for r in by_ingest.query(LINKS)]
        got = [{k: v for k, v in r.items() if k not in IDS} for r in by_spark.query(LINKS)]
        assert got == expected
        assert {(r["copy_url"], r["original_url"]) for r in expected} == {
            ("https://ledger.example.com/copy", "https://meridian.example.com/a"),
            ("https://echo.example.com/relay", "https://meridian.example.com/a")}
        # the fingerprints came too: the index finds the wire story from its text
        assert by_spark.query("SELECT count(*) AS n FROM fingerprint_index")[0]["n"] > 20
        assert [r["title"] for r in by_spark.reports.search("Kestrel")] == \
            [r["title"] for r in by_ingest.reports.search("Kestrel")]
