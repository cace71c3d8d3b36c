"""How long the web view's pages and the digest's picture take, on a record of realistic size.

The Reuters repost benchmark (``make_reuse_bench.py``; ``--originals``/``--copies``) is ingested
through relaywatch's real pipeline into a SQLite file, then relaywatch's Datasette (the plugin
and the metadata ``relaywatch serve`` uses) answers requests in-process (ASGI, no network):

- the front page, the most copied story's page, the most copying outlet's page;
- baselines measured in the same run: Datasette's own page of the ``reposts`` table (its first 50
  rows) and the ``stories`` canned query, which read the same tables.

Then the digest of the busiest day: building the message with its picture (``spread_png``: three
timelines drawn by report.svg and rendered to PNG by CairoSVG) beside the HTML part alone.

    python bench/web.py [--originals 2000] [--copies 6000] [--repeat 20] [--work DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from benchkit import build, ingest
from relaywatch.config import parse_config
from relaywatch.report.digest import build_content, build_message, render_html, spread_png
from relaywatch.report.questions import stories
from relaywatch.report.web.app import make_datasette
from relaywatch.store import Store


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and worst milliseconds of ``repeat`` calls (after one warm-up call)."""
    fn()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs), max(runs)


def pages(db: Path, repeat: int) -> None:
    config = parse_config(f'[database]\npath = "{db}"\n', "bench.toml")
    ds = make_datasette(config)
    with Store(db) as store:
        top = stories(store, limit=1)[0]
        rows = store.reports.copy_rows()
    outlet = Counter(r["copy_feed"] for r in rows).most_common(1)[0]
    name = db.stem

    def get(path: str) -> Callable[[], object]:
        def call() -> object:
            response = asyncio.run(ds.client.get(path))
            assert response.status_code == 200, (path, response.status_code)
            return response
        return call

    print(f"record: {len(rows)} copies; top story {top.id} with {top.copies} copies; "
          f"outlet {outlet[0]} with {outlet[1]} copies")
    print(f"{'page':44} {'median ms':>10} {'worst ms':>9}")
    for label, path in [("front page /", "/"), (f"story /story/{top.id}", f"/story/{top.id}"),
                        (f"outlet /outlet/{outlet[0]}", f"/outlet/{outlet[0]}"),
                        (f"baseline: table /{name}/reposts", f"/{name}/reposts"),
                        (f"baseline: canned query /{name}/stories", f"/{name}/stories")]:
        med, worst = timed(get(path), repeat)
        print(f"{label:44} {med:10.1f} {worst:9.1f}")


def digest(db: Path, repeat: int) -> None:
    config = parse_config(f'[database]\npath = "{db}"\n[digest]\nto = "desk@example.org"\n', "bench.toml")
    with Store(db) as store:
        busiest = Counter(r["copy_when"][:10] for r in store.reports.copy_rows()).most_common(1)[0][0]
        from datetime import date

        content = build_content(store, date.fromisoformat(busiest), "UTC")
    drawn = spread_png(list(content.stories))
    size = len(drawn[0]) if drawn else 0
    print(f"\ndigest of {busiest}: {len(content.stories)} stories, {content.copies} copies; picture {size} bytes")
    print(f"{'step':44} {'median ms':>10} {'worst ms':>9}")
    for label, fn in [("baseline: HTML part alone", lambda: render_html(content)),
                      ("picture: spread_png (3 timelines, SVG->PNG)", lambda: spread_png(list(content.stories))),
                      ("whole message with the picture", lambda: build_message(content, config, ["x@example.org"],
                                                                               "<id@example.org>"))]:
        med, worst = timed(fn, repeat)
        print(f"{label:44} {med:10.1f} {worst:9.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--originals", type=int, default=2000)
    ap.add_argument("--copies", type=int, default=6000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--work", type=Path)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="relaywatch-web-"))
    bench = build(work / f"bench-{args.originals}-{args.copies}", args.originals, args.copies, seed=1)
    db = work / "relaywatch.db"
    if not db.exists():
        run = ingest(db, bench)
        print(f"ingested {run.entries} entries in {run.seconds:.1f} s")
    pages(db, args.repeat)
    digest(db, args.repeat)


if __name__ == "__main__":
    main()
