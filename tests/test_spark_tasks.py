"""The Spark job's tasks and ``store.bulk`` without Spark: the same functions chained in plain Python
(as the driver chains them through shuffles) give the links ``ingest`` gives, and ``import`` loads
them. Runs where there is no Java; ``test_spark.py`` runs them on Spark itself."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

# the job's modules import pyspark (no Java is needed for these tests, but the package is)
pytest.importorskip("pyspark", reason="the 'spark' extra is not installed: pip install -e '.[spark]'")

from relaywatch.detect import fingerprint as fpmod  # noqa: E402
from relaywatch.detect.decide import MatchParams  # noqa: E402
from relaywatch.poll.archive import ingest_file, load_feed_specs  # noqa: E402
from relaywatch.spark import carry, learn, tasks  # noqa: E402
from relaywatch.spark.replay import replay_partition  # noqa: E402
from relaywatch.store import Store  # noqa: E402
from relaywatch.store.bulk import EXPORTED  # noqa: E402

from .test_ingest import WIRE, line  # noqa: E402

NOW = datetime(2026, 12, 1, tzinfo=UTC)
IDS = ("id", "original_id", "copy_id", "via_id", "detected_at")
LINKS = ("SELECT r.*, o.url AS original_url, c.url AS copy_url, v.url AS via_url FROM reposts r"
         " JOIN entries o ON o.id = r.original_id JOIN entries c ON c.id = r.copy_id"
         " LEFT JOIN entries v ON v.id = r.via_id ORDER BY c.url")


def learned_in_python(ok: dict[int, list[Any]], feeds: dict[str, Any]) -> dict[int, list[int]]:
    """``learn``'s two passes with dicts: each entry's keys to strip, the entries stripped in place."""
    roles = {name: role for name, (role, _) in feeds.items()}
    by_feed = sorted((r[5], e, r[12], r[13]) for e, r in ok.items())
    events = list(learn.wire_events(r for r in by_feed if roles[r[0]] == "wire"))
    protected = learn.Protected.of(events)
    strips = dict(learn.strip_keys((r for r in by_feed if roles[r[0]] != "wire"), roles, protected))
    for entry_id, keys in strips.items():
        done = tasks.stripped(ok[entry_id][11], keys)
        if done:
            ok[entry_id][9:12] = done
    return strips


def job_in_python(lines: list[str], specs: dict[str, Any], p: MatchParams) -> tuple[list[Any], dict[str, Any]]:
    """The job's stages on one 'partition', its shuffles done with dicts: output rows and feeds."""
    prepared = list(tasks.prepare_lines((("file:/a.jsonl", 0, x) for x in lines), NOW))
    ok = {row[2] + 1: list(row) for row in prepared if row[3] == "ok"}
    feeds = {}
    for entry_id in sorted(ok):
        name, role = ok[entry_id][5], ok[entry_id][6]
        spec = specs.get(name)
        feeds.setdefault(name, (spec.role, spec.credit) if spec else (role or "outlet", ()))
    strips = learned_in_python(ok, feeds)
    holders: dict[int, list[int]] = defaultdict(list)
    for entry_id in sorted(ok):
        for h in ok[entry_id][10]:
            holders[h].append(entry_id)
    shared: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for ids in holders.values():  # the index's rows: the per_hash oldest, counted up to per_hash
        for r, new in enumerate(ids, 1):
            for old in ids[:min(r - 1, p.per_hash)]:
                shared[new][old].append(min(r, p.per_hash))
    short = [s for new, olds in shared.items() for s in tasks.shortlist_one(
        new, ok[new][9], [(o, len(ns), tasks.rarity(ns)) for o, ns in olds.items()], p)]
    by_entry = defaultdict(list)
    for new, c, rank, n, w in short:
        by_entry[new].append((c, rank, n, w, ok[c][11]))
    found = dict(tasks.confirm_entries(((e, ok[e][11], ps) for e, ps in by_entry.items()), p))
    comp = {e: e for e in ok}
    for _ in range(len(ok)):  # labels: the smallest id of the component
        for e, fs in found.items():
            low = min(comp[e], *(comp[c] for c, _, _ in fs))
            for x in (e, *(c for c, _, _ in fs)):
                comp[x] = low
    with Store(":memory:") as s:
        columns = {t: s.bulk.columns(t) for t in EXPORTED}
    todo = sorted((comp[e], e, ok[e][14], found.get(e), strips.get(e)) for e in ok)
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


def test_carry_gives_back_the_fingerprint_and_text_it_packed() -> None:
    text = WIRE + "\n\nShares rose 4.5% to 1,204 pence on 12 March."
    fp, back = carry.unpack(carry.pack(fpmod.fingerprint(text), text))
    made = fpmod.fingerprint(text, index=False)
    assert back == text
    assert (fp.tokens, fp.numbers) == (made.tokens, made.numbers) and "4" in fp.numbers
    for name in ("sequence", "shingles", "winnowed", "words"):
        got, want = getattr(fp, name), getattr(made, name)
        assert got.dtype == want.dtype and got.tolist() == want.tolist()
    empty, nothing = carry.unpack(carry.pack(fpmod.fingerprint(""), ""))
    assert (nothing, empty.tokens, empty.numbers, len(empty.words)) == ("", 0, frozenset(), 0)


WORDS = ("harbour board district council pier repairs survey cracked piles metre rail berth ferry tide storm"
         " school budget teacher library museum bridge road tunnel railway station market farmer harvest grain"
         " orchard river flood bank loan mayor election vote ballot court judge trial witness police fire"
         " brigade hospital nurse doctor clinic factory worker strike union wage price shop bakery festival"
         " concert choir painter gallery garden park forest trail bird nest fishing boat crew captain cargo")


def _story(n: int, *extra: str) -> str:
    """A story of its own (no run of words of it in another), with ``extra`` paragraphs after it."""
    body = " ".join(random.Random(n).sample(WORDS.split(), 40)).capitalize() + "."
    return "\n\n".join((body, *extra))


def test_each_feed_learns_its_boilerplate_as_ingest_does(tmp_path: Path) -> None:
    """An outlet's newsletter line, learned over its stories in archive order, is stripped from its
    copy of the wire; the wire's disclaimer, its standard text, is not, though the outlet repeats it."""
    specs_path = tmp_path / "feeds.json"
    specs_path.write_text(json.dumps([{"name": "meridian", "role": "wire", "credit": ["Meridian Wire"]}]))
    news = "Sign up for the Ledger morning newsletter today."
    note = "Meridian Wire stories are checked by two editors."
    lines = [line("meridian", f"w{n}", _story(n, note), f"2026-11-2{n}T08:00:00Z") for n in (1, 2)]
    lines += [line("ledger", f"s{n}", _story(n, news, note), f"2026-11-24T1{n}:00:00Z")
              for n in range(3, 9)]
    lines += [line("meridian", "a", WIRE, "2026-11-24T16:00:00Z"),
              line("ledger", "copy", WIRE + f"\n\n{news}\n\n{note}", "2026-11-24T19:30:00Z")]
    archive = tmp_path / "a.jsonl"
    archive.write_text("\n".join(lines) + "\n", encoding="utf-8")
    specs = load_feed_specs(specs_path)
    rows, feeds = job_in_python(lines, specs, MatchParams())
    entries, links = as_dicts(rows)
    with Store(tmp_path / "ingest.db") as by_ingest, Store(tmp_path / "spark.db") as by_spark:
        ingest_file(by_ingest, archive, specs)
        by_spark.bulk.import_rows([(n, r, c) for n, (r, c) in feeds.items()], entries, links)
        texts = "SELECT url, text FROM entries ORDER BY id"
        assert by_spark.query(texts) == by_ingest.query(texts)
        copy = by_spark.query("SELECT text FROM entries WHERE guid = 'copy'")[0]["text"]
        assert news not in copy and copy.endswith(note)
        got = [{k: v for k, v in r.items() if k not in IDS} for r in by_spark.query(LINKS)]
        assert got == [{k: v for k, v in r.items() if k not in IDS} for r in by_ingest.query(LINKS)]
        assert [(r["copy_url"], r["kind"]) for r in got] == [("https://ledger.example.com/copy", "verbatim")]
