"""``relaywatch spark-ingest`` on a real local[2] Spark session, against ``relaywatch ingest`` link for link.

The input: a generated set over a JSON-lines file (with bad lines), a gzipped one and a Parquet file.

One session for the module (it starts once). Skipped only where Spark cannot run: no Java, or
the ``spark`` extra not installed.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from relaywatch.cli.main import main
from relaywatch.poll.archive import ingest_file, load_feed_specs
from relaywatch.poll.scheduler import poll_once
from relaywatch.report.tables import reposts
from relaywatch.store import Store

from .conftest import REPO, make_config

if shutil.which("java") is None or subprocess.run(["java", "-version"], capture_output=True).returncode != 0:
    pytest.skip("no Java runtime (Spark needs Java 17 or 21): apt-get install openjdk-17-jre-headless",
                allow_module_level=True)
pytest.importorskip("pyspark", reason="the 'spark' extra is not installed: pip install -e '.[spark]'")
pa = pytest.importorskip("pyarrow", reason="the 'spark' extra is not installed: pip install -e '.[spark]'")
import pyarrow.parquet as pq  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402
from relaywatch.spark.job import JobOptions, JobReport, run_job, start_session  # noqa: E402
from relaywatch.spark.load import import_dir  # noqa: E402

GENERATOR = REPO.parent / "shared" / "tools" / "make_reuse_bench.py"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
BAD = ["{not json", json.dumps({"feed": "x", "title": "no text"}), json.dumps([1, 2]),
       json.dumps({"html": "<p>no feed</p>"})]
IDS = ("id", "original_id", "copy_id", "via_id", "detected_at")  # ids differ between stores; the rest must not
LINKS = ("SELECT r.*, o.url AS original_url, c.url AS copy_url, v.url AS via_url FROM reposts r"
         " JOIN entries o ON o.id = r.original_id JOIN entries c ON c.id = r.copy_id"
         " LEFT JOIN entries v ON v.id = r.via_id")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path]:
    """A small generated set split over three files (JSON lines, the same gzipped, Parquet), with
    bad lines in the first; and the same lines as one plain file, for ``ingest``.
    (a.jsonl, b.jsonl.gz, all.jsonl, c.parquet)"""
    if not GENERATOR.exists():
        pytest.skip(f"{GENERATOR} is absent (the benchmark generator lives in ../shared beside the checkout)")
    root = tmp_path_factory.mktemp("corpus")
    subprocess.run([sys.executable, str(GENERATOR), str(root), "--originals", "60", "--copies", "90", "--seed", "3"],
                   check=True, capture_output=True)
    lines = (root / "entries.jsonl").read_text(encoding="utf-8").splitlines()
    first = lines[:80]
    for n, bad in zip((3, 11, 12, 40), BAD, strict=True):
        first.insert(n, bad)
    first.insert(20, "")
    (root / "in").mkdir()
    (root / "in" / "a.jsonl").write_text("\n".join(first) + "\n", encoding="utf-8")
    with gzip.open(root / "in" / "b.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines[80:120]) + "\n")
    pq.write_table(pa.Table.from_pylist([json.loads(x) for x in lines[120:]]), root / "in" / "c.parquet")
    (root / "all.jsonl").write_text("\n".join(first + lines[80:]) + "\n", encoding="utf-8")
    return root / "in" / "a.jsonl", root / "in" / "b.jsonl.gz", root / "all.jsonl", root / "in" / "c.parquet"


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = start_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def job(spark: SparkSession, corpus: tuple[Path, Path, Path, Path], tmp_path_factory: pytest.TempPathFactory
        ) -> tuple[JobReport, Path]:
    out = tmp_path_factory.mktemp("job") / "out"
    specs = load_feed_specs(corpus[2].parent / "feeds.json")
    inputs = (str(corpus[0].parent / "*.jsonl*"), str(corpus[3]))
    report = run_job(spark, JobOptions(inputs, str(out), specs, partitions=3, now=NOW))
    return report, out


def links_of(store: Store) -> dict[str, dict[str, Any]]:
    """Every link, every column of it (those a migration adds too), by its copy's URL."""
    return {r["copy_url"]: {k: v for k, v in r.items() if k not in IDS} for r in store.query(LINKS)}


def test_job_links_as_ingest_does_link_for_link(job: tuple[JobReport, Path], corpus: tuple[Path, Path, Path, Path],
                                                tmp_path: Path) -> None:
    report, out = job
    with Store(tmp_path / "ingest.db") as by_ingest, Store(tmp_path / "spark.db") as by_spark:
        done = ingest_file(by_ingest, corpus[2], load_feed_specs(corpus[2].parent / "feeds.json"))
        imported = import_dir(by_spark, out)
        assert (imported.entries, imported.links) == (done.counts.new, done.counts.links)
        assert (report.entries, report.links, report.lines, report.bad) == \
            (done.counts.new, done.counts.links, done.lines, done.bad)
        expected = links_of(by_ingest)
        assert len(expected) > 60
        # every column of every link, and every entry's text (each feed's boilerplate learned and
        # stripped as ``ingest`` does it)
        assert links_of(by_spark) == expected
        # the entries too: same feeds, same updates-of, same texts
        q = "SELECT f.name, e.guid, e.update_of IS NULL AS u, e.text, e.words FROM entries e" \
            " JOIN feeds f ON f.id = e.feed_id ORDER BY e.id"
        assert by_spark.query(q) == by_ingest.query(q)
        by_ingest.index.flush()  # its last fingerprints wait to be merged into the index
        assert by_spark.count("fingerprint_index") > 0 and by_ingest.count("fingerprint_index") > 0


def test_bad_lines_are_reported_with_file_and_line_and_skipped(job: tuple[JobReport, Path],
                                                               corpus: tuple[Path, Path, Path, Path]) -> None:
    report, out = job
    a = corpus[0]
    assert report.bad == 4
    assert report.errors == [
        f"{a}:4: skipped: not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        f"{a}:12: skipped: no 'html' or 'text'", f"{a}:13: skipped: not a JSON object",
        f"{a}:42: skipped: no 'feed'"]
    bad = pq.read_table(out / "bad").to_pylist()
    assert [(r["line"], r["why"]) for r in bad] == [(4, report.errors[0].split("skipped: ")[1]),
                                                    (12, "no 'html' or 'text'"), (13, "not a JSON object"),
                                                    (42, "no 'feed'")]


def test_same_output_whatever_the_partitions(spark: SparkSession, job: tuple[JobReport, Path],
                                             corpus: tuple[Path, Path, Path, Path], tmp_path: Path) -> None:
    _, out = job
    specs = load_feed_specs(corpus[2].parent / "feeds.json")
    inputs = (str(corpus[3]), str(corpus[0]), str(corpus[1]))  # files are taken in path order
    again = run_job(spark, JobOptions(inputs, str(tmp_path / "out"), specs, partitions=1, now=NOW))
    assert again.bad == 4
    for part in ("entries", "links", "feeds"):
        assert pq.read_table(tmp_path / "out" / part).to_pylist() == pq.read_table(out / part).to_pylist()


def test_the_daemon_links_a_polled_entry_to_an_imported_story(job: tuple[JobReport, Path], tmp_path: Path,
                                                              httpserver: HTTPServer) -> None:
    _, out = job
    config = make_config(tmp_path, f'[[feeds]]\nname = "late-outlet"\nurl = "{httpserver.url_for("/feed")}"\n')
    with Store(config.database.path) as store:
        import_dir(store, out)
        wire = store.query("SELECT e.url, e.title, e.text FROM entries e JOIN feeds f ON f.id = e.feed_id"
                           " WHERE f.role = 'wire' AND e.words > 120 ORDER BY e.id LIMIT 1")[0]
        body = "".join(f"<p>{p}</p>" for p in wire["text"].split("\n\n"))
        httpserver.expect_request("/feed").respond_with_data(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Late</title><link>http://late/</link>'
            f"<item><title>{wire['title']}</title><guid>late-1</guid><link>https://late.example/1</link>"
            f"<description><![CDATA[{body}]]></description><pubDate>Mon, 01 Dec 2026 08:00:00 GMT</pubDate>"
            "</item></channel></rss>", content_type="application/rss+xml")
        outcome = poll_once(config, store)[0][1]
        assert (outcome.new_entries, outcome.links) == (1, 1)
        link = [r for r in reposts(store) if r["copy_feed"] == "late-outlet"]
        assert [(r["original_url"], r["kind"]) for r in link] == [(wire["url"], "verbatim")]


def test_import_cli_prints_what_it_loaded(job: tuple[JobReport, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    report, out = job
    db = tmp_path / "x.db"
    assert main(["import", str(out), "--db", str(db)]) == 0
    assert capsys.readouterr().out == f"imported {report.entries} entries, {report.links} links, 11 feeds into {db}\n"
    assert main(["import", str(out), "--db", str(db)]) == 1  # a second time: the entries are there already
    err = capsys.readouterr().err
    assert err.startswith(f"relaywatch: cannot import into {db}: it already holds some of these entries")
    assert err.count("\n") == 1
    assert main(["import", str(tmp_path / "none"), "--db", str(db)]) == 2
    assert capsys.readouterr().err == f"relaywatch: {tmp_path / 'none'}: no such folder\n"


def test_bad_master_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["spark-ingest", "x.jsonl", "--out", str(tmp_path / "o"), "--master", "nosuch://x"]) == 2
    assert capsys.readouterr().err == \
        "relaywatch: --master nosuch://x: not a Spark master (local[N], spark://HOST:PORT, yarn, k8s://URL)\n"


def test_missing_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "relaywatch"
    missing = tmp_path / "nope.jsonl"
    proc = subprocess.run([str(script), "spark-ingest", str(missing), "--out", str(tmp_path / "o"),
                           "--master", "local[1]"], capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (f"relaywatch: cannot read the input: [PATH_NOT_FOUND] Path does not exist: file:{missing}."
                           " SQLSTATE: 42K03\n")
