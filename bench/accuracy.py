"""Accuracy of repost detection on five labelled sets, through relaywatch's real ingest path.

1. the Reuters repost benchmark, default set (``make_reuse_bench.py --seed 1``): link precision,
   recall, F1, and agreement of kind / via / credited on correct links (the shared scorer);
2. the same generator at ``--originals 12000 --copies 40000`` (``--large``; several minutes);
3. Clough & Stevenson (real human text reuse): share of ``cut`` / ``light`` / ``heavy`` answers
   linked to their task's source, and ``non`` answers linked to anything (must be none);
4. relay-webmentions: the 7 scraped republications with page HTML, each expected to be linked to
   the earliest-seen one with coverage >= 0.9;
5. noisy pages (``--noisy``; about a minute): set 1 with page furniture added to every non-wire
   page (captions, intros, related lists, nav, footers, ads, credit variants) and 1000 unrelated
   outlet stories; scores per noise category beside the clean set (``bench/noisy.py``, which also
   runs alone: ``python bench/noisy.py [--work DIR]``).

    python bench/accuracy.py [--noisy] [--large] [--work DIR]

Constants of the matcher were chosen on set 1; sets 2-4 check that they hold.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchkit import DATA, build, ingest, links_json, need, score
from noisy import report as noisy_report
from relaywatch.poll.archive import ingest_file
from relaywatch.report.tables import reposts
from relaywatch.store import Store


def reuters(work: Path, originals: int, copies: int, seed: int = 1) -> None:
    bench = build(work / f"reuse-{originals}-{copies}-{seed}", originals, copies, seed)
    run = ingest(work / f"reuse-{originals}-{copies}-{seed}.db", bench)
    links = links_json(work / f"reuse-{originals}-{copies}-{seed}.db", work / f"links-{originals}-{copies}.json")
    print(f"\n== Reuters repost benchmark, --originals {originals} --copies {copies} --seed {seed}")
    print(f"ingested {run.entries} entries in {run.seconds:.1f} s ({run.rate:.0f} entries/s), "
          f"{run.report.counts.links} links written, peak RSS {run.peak_rss_mb:.0f} MB")
    for line in score(bench, links):
        print(line)


def _write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _run(work: Path, name: str, rows: list[dict[str, str]], feeds: list[dict[str, object]]) -> list[dict]:
    jsonl, feeds_json, db = work / f"{name}.jsonl", work / f"{name}.feeds.json", work / f"{name}.db"
    _write_jsonl(jsonl, rows)
    feeds_json.write_text(json.dumps(feeds), encoding="utf-8")
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    from relaywatch.poll.archive import load_feed_specs

    with Store(db) as store:
        ingest_file(store, jsonl, load_feed_specs(feeds_json))
        return reposts(store)


def clough_stevenson(work: Path) -> None:
    folder = need(DATA / "clough-stevenson")
    t0 = datetime(2009, 1, 1, tzinfo=UTC)
    rows, feeds, labels = [], [{"name": "sources", "role": "wire", "credit": []}], {}
    for task in "abcde":
        text = (folder / f"orig_task{task}.txt").read_text(encoding="utf-8", errors="replace")
        rows.append({"feed": "sources", "guid": f"orig-{task}", "url": f"cs:orig_task{task}",
                     "title": f"task {task}", "published": t0.isoformat(), "text": text})
    with (folder / "file_information.csv").open(encoding="utf-8") as f:
        answers = [r for r in csv.DictReader(f) if r["Category"] != "orig"]
    for i, r in enumerate(answers):
        person = r["File"].split("_")[0]
        if not any(fd["name"] == person for fd in feeds):
            feeds.append({"name": person, "role": "outlet", "credit": []})
        text = (folder / r["File"]).read_text(encoding="utf-8", errors="replace")
        url = f"cs:{r['File']}"
        labels[url] = (r["Task"], r["Category"])
        rows.append({"feed": person, "guid": r["File"], "url": url, "title": r["File"],
                     "published": (t0 + timedelta(hours=1, minutes=i)).isoformat(), "text": text})
    links = _run(work, "clough-stevenson", rows, feeds)
    linked = {link["copy_url"]: link for link in links}
    print("\n== Clough & Stevenson (95 answers to 5 source texts)")
    for cat in ("cut", "light", "heavy"):
        urls = [u for u, (_, c) in labels.items() if c == cat]
        ok = sum(1 for u in urls if u in linked and linked[u]["original_url"] == f"cs:orig_task{labels[u][0]}")
        print(f"{cat:6s} linked to their source: {ok}/{len(urls)} ({ok / len(urls):.0%})")
    non = {u for u, (_, c) in labels.items() if c == "non"}
    bad = [link for link in links if link["copy_url"] in non or link["original_url"] in non]
    wrong = [link for link in links if link["copy_url"] not in non
             and link["original_url"] != f"cs:orig_task{labels[link['copy_url']][0]}"]
    print(f"non    linked to anything: {len(bad)}/{len(non)} (precision on non: "
          f"{'1.0' if not bad else 'FAILED'}); links to a wrong source: {len(wrong)}")
    coverage = sorted(round(link["coverage"], 2) for link in links if labels[link["copy_url"]][1] == "cut")
    print(f"coverage of cut answers: min {coverage[0]:.2f}, median {coverage[len(coverage) // 2]:.2f}")


def relay_webmentions(work: Path) -> None:
    raw = json.loads(need(DATA / "relay-webmentions" / "css-tricks-year-zero.json").read_text(encoding="utf-8"))
    rows, feeds = [], []
    for item in raw["links"]:
        data = item.get("data")
        data = ast.literal_eval(data) if isinstance(data, str) else (data or {})
        if not data.get("content"):
            continue
        site = item["source"].split("/")[2].replace(".", "-")
        feeds.append({"name": site, "role": "relay", "credit": ["CSS-Tricks"]})
        rows.append({"feed": site, "guid": item["source"], "url": item["source"], "title": "It's Always Year Zero",
                     "published": item["verified_date"], "html": data["content"]})
    rows.sort(key=lambda r: r["published"])
    links = _run(work, "relay-webmentions", rows, feeds)
    first = rows[0]["url"]
    print(f"\n== relay-webmentions ({len(rows)} scraped pages with HTML; earliest {first})")
    by_copy = {link["copy_url"]: link for link in links}
    good = 0
    for r in rows[1:]:
        link = by_copy.get(r["url"])
        ok = link is not None and link["original_url"] == first and link["coverage"] >= 0.9
        good += ok
        desc = f"{link['kind']} coverage {link['coverage']:.2f} of {link['original_url']}" if link else "not linked"
        print(f"  {'ok ' if ok else 'MISS'} {r['url']}: {desc}")
    print(f"linked to the earliest with coverage >= 0.9: {good}/{len(rows) - 1}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--large", action="store_true", help="also run --originals 12000 --copies 40000")
    ap.add_argument("--noisy", action="store_true", help="also score the noisy-page variant of set 1")
    ap.add_argument("--work", type=Path, help="keep generated sets and databases here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="relaywatch-accuracy-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        reuters(work, 2000, 3000)
        clough_stevenson(work)
        relay_webmentions(work)
        if args.noisy:
            noisy_report(work)
        if args.large:
            reuters(work, 12000, 40000)


if __name__ == "__main__":
    main()
