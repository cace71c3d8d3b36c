"""``spark-ingest`` (the detection on Apache Spark, for whole archives) and ``import`` (its output
into the SQLite store). Spark and pyarrow come with the ``spark`` extra: pip install 'relaywatch[spark]'."""

from __future__ import annotations

import os
import sys

import click

from relaywatch.cli.common import CliState, command
from relaywatch.config import Config

MISSING = "the 'spark' extra is not installed: pip install 'relaywatch[spark]'"


def default_master() -> str | None:
    """``local[*]``, or none under ``spark-submit`` (its gateway is set: its --master holds)."""
    return None if os.environ.get("PYSPARK_GATEWAY_PORT") else "local[*]"


@command("spark-ingest", "backfill whole archives on Apache Spark, into Parquet")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--feeds", "feeds_file", metavar="FEEDS.json",
              help="a JSON list of {name, role, credit}, one per feed of the archive")
@click.option("--out", required=True, metavar="DIR", help="where to write the Parquet output (replaced if there)")
@click.option("--master", default=None, metavar="URL",
              help="Spark master (default: local[*], or spark-submit's --master under spark-submit)")
@click.option("--partitions", type=click.IntRange(min=1), default=None, metavar="N",
              help="partitions of the replay (default: Spark's default parallelism)")
@click.option("--conf", "settings", multiple=True, metavar="KEY=VALUE",
              help="a Spark setting, e.g. spark.driver.memory=4g (repeatable)")
@click.pass_context
def spark_ingest_cmd(ctx: click.Context, inputs: tuple[str, ...], feeds_file: str | None, out: str,
                     master: str | None, partitions: int | None, settings: tuple[str, ...]) -> None:
    """Backfill INPUT... (JSON lines as for ingest, plain or .gz, globs; or .parquet with the same
    columns; any path Spark reads: local, hdfs://, s3a://) with the same rules as ingest, on Spark.
    Writes OUT/entries, OUT/links, OUT/feeds and OUT/bad (the lines skipped) as Parquet; load
    them with "relaywatch import OUT". Files are taken in path order."""
    try:
        from relaywatch.spark.job import JobOptions, run
    except ImportError as e:
        raise click.ClickException(MISSING) from e
    from relaywatch.poll.archive import load_feed_specs

    state = ctx.ensure_object(CliState)
    conf = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"not KEY=VALUE: {item!r}", param_hint="--conf")
        conf[key.strip()] = value
    specs = load_feed_specs(feeds_file) if feeds_file else {}
    report = run(master or default_master(), JobOptions(inputs, out, specs, partitions=partitions),
                 quiet=not state.verbose, conf=conf)
    for line in report.errors:
        print(f"relaywatch: {line}", file=sys.stderr)
    if report.bad > len(report.errors):
        print(f"relaywatch: ... {report.bad - len(report.errors)} more skipped lines in {out}/bad", file=sys.stderr)
    print(f"{report.summary()}; written to {out}")


@command("import", "load the output of spark-ingest into the database")
@click.argument("folder", metavar="DIR")
@click.option("--db", "db_path", metavar="FILE", help="the SQLite database (default: the configured one)")
@click.pass_obj  # not pass_state: with --db, no configuration is needed (nor looked for)
def import_cmd(state: CliState, folder: str, db_path: str | None) -> None:
    """Load DIR, the output of spark-ingest (entries with their fingerprints, links, feeds), into the
    database, after the entries it holds; reposts, stories, outlets, the digest and the daemon
    then work on it."""
    try:
        from relaywatch.spark.load import import_dir
    except ImportError as e:
        raise click.ClickException(MISSING) from e
    from relaywatch.store import Store

    if db_path:  # a database named on the command line needs no configuration
        path, busy = db_path, Config().database.busy_timeout
    else:
        path, busy = state.config.database.path, state.config.database.busy_timeout
    with Store(path, busy) as store:
        done = import_dir(store, folder)
    print(f"imported {done.entries} entries, {done.links} links, {done.feeds} feeds into {path}")


COMMANDS: tuple[click.Command, ...] = (spark_ingest_cmd, import_cmd)
