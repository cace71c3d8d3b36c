"""The driver of ``relaywatch spark-ingest``: reads with Spark's readers, runs the stages, writes Parquet.

Stages (each a Spark job; nothing of the corpus or of the pairs comes to the driver, only the
count of lines per file split, the feeds, the changes of the wires' standard lines, and the
figures of the report):

1. read: JSON lines (plain or .gz) or Parquet, any path Spark reads; each line keeps its file and
   split, so the driver numbers them in archive order (files in path order);
2. prepare per partition (``tasks.prepare_lines``); bad lines reported with file and line, skipped;
   a repeated (feed, guid) keeps its first version;
3. each feed's boilerplate learned in archive order (``learn``), the entries it strips stripped
   and fingerprinted again;
4. candidates by a shuffle on fingerprint (``pairs.candidates``: the ``per_hash`` oldest holders
   of each, ``decide.shortlist`` per entry), each entry's shortlist measured
   (``pairs.related``, ``tasks.confirm_entries``);
5. connected components of the related pairs (``graph``);
6. each component replayed as ``ingest`` would store it (``replay``), written out sorted by id.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from relaywatch.detect.decide import MatchParams
from relaywatch.poll.archive import FeedSpec
from relaywatch.spark import SparkInputError, SparkJobError, learn, pairs, tasks
from relaywatch.spark.graph import components
from relaywatch.spark.replay import FeedTable, replay_partition
from relaywatch.spark.schema import PREPARED, output_schema, store_columns
from relaywatch.store import utcnow

LOG4J = Path(__file__).with_name("log4j2.properties")
BAD_SHOWN = 20  # bad lines named in the report (all of them are in OUT/bad)
ENTRIES_PER_PARTITION = 10_000
SPLITS_PER_CORE = 4


@dataclass(frozen=True)
class JobOptions:
    inputs: tuple[str, ...]
    out: str
    feeds: Mapping[str, FeedSpec] = field(default_factory=dict)
    params: MatchParams = field(default_factory=MatchParams)
    partitions: int | None = None  # of the replay (default: Spark's default parallelism)
    now: datetime | None = None    # first-seen time of the entries (default: now)


@dataclass
class JobReport:
    lines: int = 0
    entries: int = 0
    unchanged: int = 0
    updated: int = 0
    links: int = 0
    bad: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.lines} lines: {self.entries} new entries, {self.updated} updated, {self.unchanged} unchanged,"
                f" {self.links} links, {self.bad} skipped")


MASTER = re.compile(r"local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[[\d, ]+\]|spark://\S+|yarn|k8s://\S+")


def spark_log() -> Path:
    return Path(tempfile.gettempdir()) / f"relaywatch-spark-{os.getpid()}.log"


def start_session(master: str | None, quiet: bool = True, conf: Mapping[str, str] | None = None) -> SparkSession:
    """A Spark session (``master`` None: the one ``spark-submit`` gives). Locally, Spark's Python
    workers run this interpreter. ``quiet``: the JVM's output goes to a log file (``spark_log``,
    named in an error), Spark's own log only for errors."""
    if master is not None and not MASTER.fullmatch(master):
        raise SparkInputError(f"--master {master}: not a Spark master (local[N], spark://HOST:PORT, yarn, k8s://URL)")
    builder = SparkSession.builder.appName("relaywatch spark-ingest")
    if master:
        builder = builder.master(master)
        if master.startswith("local"):
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if quiet:
        builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG4J.as_uri()}")
    builder = builder.config("spark.ui.showConsoleProgress", "false").config("spark.ui.enabled", "false")
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    log = spark_log()
    try:
        with _stderr_to(log if quiet else None):
            spark = builder.getOrCreate()
    except Exception as e:  # no Java, a master that cannot be reached: Py4J's or PySpark's errors
        why = _last_error(log) or _first_line(e)
        raise SparkJobError(f"cannot start Spark (master {master or 'from spark-submit'}): {why}"
                            + (f" (Spark's log: {log})" if quiet else "")) from e
    return spark


@contextmanager
def _stderr_to(path: Path | None) -> Iterator[None]:
    """File descriptor 2 sent to ``path`` while the JVM starts: it, and the processes it starts,
    keep writing there; this process gets its stderr back."""
    if path is None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as f:
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _last_error(log: Path) -> str | None:
    """Why the JVM did not start, from its log: its first error, else its last exception."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    errors = [ln.split(" ERROR ", 1)[1].split(": ", 1)[-1] for ln in lines if " ERROR " in ln]
    if errors:
        return errors[0].strip()
    found = [ln.split("Exception:", 1)[1].strip() for ln in lines if "Exception:" in ln and not ln.startswith("\t")]
    return found[-1] if found else None


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:  # Py4J: "An error occurred while calling ...", then the Java exception
        if "Exception:" in ln or "Error:" in ln:
            return ln.split("Exception:", 1)[-1].split("Error:", 1)[-1].strip() or ln
    return lines[0]


def read_lines(spark: SparkSession, inputs: tuple[str, ...]) -> DataFrame:
    """(file, block, value) of every line of the inputs: JSON lines (``.parquet`` paths: Parquet
    rows, as JSON of their columns), each with its file and the start of its split."""
    parquet = tuple(p for p in inputs if p.rstrip("/").endswith(".parquet"))
    jsonl = tuple(p for p in inputs if p not in parquet)
    frames = []
    try:
        if jsonl:
            frames.append(spark.read.text(list(jsonl)).select(
                F.col("_metadata.file_path").alias("file"), F.col("_metadata.file_block_start").alias("block"),
                "value"))
        if parquet:
            df = spark.read.parquet(*parquet)
            frames.append(df.select(F.col("_metadata.file_path").alias("file"),
                                    F.col("_metadata.file_block_start").alias("block"),
                                    F.to_json(F.struct(*[F.col(c) for c in df.columns])).alias("value")))
    except AnalysisException as e:
        raise SparkInputError(f"cannot read the input: {_first_line(e)}") from e
    out = frames[0]
    for other in frames[1:]:
        out = out.union(other)
    return out


def number(spark: SparkSession, prepared: DataFrame) -> tuple[DataFrame, int]:
    """Each prepared line with its archive id (its place among all lines, files in path order) and
    its line number in its file, and the number of lines; only the count of lines of each split
    comes to the driver."""
    splits = sorted((r["file"], r["block"], r["count"]) for r in prepared.groupBy("file", "block").count().collect())
    rows, total, file, in_file = [], 0, None, 0
    for f, block, n in splits:
        if f != file:
            file, in_file = f, 0
        rows.append((f, block, total, in_file))
        total += n
        in_file += n
    offsets = spark.createDataFrame(rows, "file string, block long, id_base long, line_base long")
    return prepared.join(F.broadcast(offsets), ["file", "block"]) \
        .withColumn("id", F.col("id_base") + F.col("idx") + 1) \
        .withColumn("line_no", F.col("line_base") + F.col("idx") + 1), total


def split_input(spark: SparkSession) -> None:
    """Input splits of at most 1 / ``SPLITS_PER_CORE`` of the input a core, unless the session sets
    ``spark.sql.files.minPartitionNum`` itself. Spark's default splits are 128 MB, or the input
    divided by the cores when that is smaller: 200,644 entries (280 MB) on two cores made three
    splits, and the third prepared alone (326 s of tasks in 174 s)."""
    sc = spark.sparkContext
    if not sc.getConf().contains("spark.sql.files.minPartitionNum"):
        spark.conf.set("spark.sql.files.minPartitionNum", str(SPLITS_PER_CORE * sc.defaultParallelism))


def size_shuffles(spark: SparkSession, lines: int) -> None:
    """Shuffles sized to the input: ``ENTRIES_PER_PARTITION`` lines a partition, at least two per
    core (Spark's default of 200 is 200 tasks a stage on a few thousand lines), unless the session
    sets ``spark.sql.shuffle.partitions`` itself. Adaptive execution does not merge them: the
    Python stages cost CPU per row, not bytes (merged into one, a stage of 30,000 entries ran on one
    core), and the aggregations sort (a hash aggregate of lists ran out of execution memory on one
    task holding a whole stage in local mode)."""
    sc = spark.sparkContext
    if not sc.getConf().contains("spark.sql.shuffle.partitions"):
        wanted = max(2 * sc.defaultParallelism, -(-lines // ENTRIES_PER_PARTITION))
        spark.conf.set("spark.sql.shuffle.partitions", str(wanted))
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    spark.conf.set("spark.sql.execution.useObjectHashAggregateExec", "false")


def feed_table(kept: DataFrame, specs: Mapping[str, FeedSpec]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each feed's role and credit: from the feeds list, else the role its first line gives (as ``ingest``)."""
    out = {}
    for r in kept.groupBy("feed").agg(F.min_by("role", "id").alias("role")).collect():
        spec = specs.get(r["feed"])
        out[r["feed"]] = (spec.role, spec.credit) if spec else (r["role"] or "outlet", ())
    return out


def replayed(spark: SparkSession, kept: DataFrame, found: DataFrame, feeds: FeedTable, opts: JobOptions,
             now: datetime) -> DataFrame:
    """Every kept entry as the store would hold it after ``ingest`` (``replay``), with its link."""
    edges = found.select(F.col("id").alias("a"), F.explode("found.cand").alias("b"))
    comps = components(spark, edges)
    rows = kept.select("id", "draft", "strip").join(comps, "id", "left").join(found, "id", "left") \
        .withColumn("comp", F.coalesce("comp", "id"))
    n = opts.partitions or spark.sparkContext.defaultParallelism
    rows = rows.repartition(n, "comp").sortWithinPartitions("comp", "id") \
        .select("comp", "id", "draft", "found", "strip")
    columns, p = store_columns(), opts.params
    out = rows.rdd.mapPartitions(lambda it: replay_partition(it, now, feeds, p, columns))
    return spark.createDataFrame(out, output_schema(columns))


KEPT = ("id", "feed", "role", "nfp", "hashes", "blob", "bkeys", "bwords", "draft")


def run_job(spark: SparkSession, opts: JobOptions) -> JobReport:
    """Run the job on ``spark``: Parquet under ``opts.out`` (entries, links, feeds, bad), and its report."""
    now = opts.now or utcnow()
    split_input(spark)
    lines = read_lines(spark, opts.inputs)
    prepared = spark.createDataFrame(lines.rdd.mapPartitions(lambda it: tasks.prepare_lines(it, now)), PREPARED)
    numbered, total = number(spark, prepared.persist(StorageLevel.MEMORY_AND_DISK))
    numbered = numbered.persist(StorageLevel.MEMORY_AND_DISK)
    size_shuffles(spark, total)
    report = JobReport()
    _report_bad(numbered, opts.out, report)
    ok = numbered.where(F.col("status") == "ok")
    firsts = ok.groupBy("feed", "guid").agg(F.min("id").alias("first"),
                                            F.min_by("content_hash", "id").alias("first_hash"))
    ok = ok.join(firsts, ["feed", "guid"])
    kept = ok.where(F.col("id") == F.col("first")).select(*KEPT).persist(StorageLevel.MEMORY_AND_DISK)
    again = ok.where(F.col("id") != F.col("first")).groupBy(F.col("content_hash") == F.col("first_hash")).count()
    for same, count in again.collect():
        report.unchanged += count if same else 0
        report.updated += 0 if same else count
    feeds = feed_table(kept, opts.feeds)
    learnt = _stripped(spark, kept, feeds).persist(StorageLevel.MEMORY_AND_DISK)
    found = pairs.related(spark, learnt, pairs.candidates(spark, learnt, opts.params), opts.params)
    out = replayed(spark, learnt, found.persist(StorageLevel.MEMORY_AND_DISK), feeds, opts, now)
    out = out.persist(StorageLevel.MEMORY_AND_DISK)
    _write(spark, out, feeds, opts.out)
    report.entries = out.count()
    report.links = out.where(F.col("link").isNotNull()).count()
    report.lines = report.entries + report.unchanged + report.updated + report.bad
    for df in (out, found, learnt, kept, numbered, prepared):
        df.unpersist()
    return report


def _stripped(spark: SparkSession, kept: DataFrame, feeds: FeedTable) -> DataFrame:
    """The kept entries, those from which ``ingest`` would strip their feed's learned blocks
    (``learn``) stripped and fingerprinted again: (id, nfp, hashes, blob, draft, strip)."""
    strips, _ = learn.learned(spark, kept, {name: role for name, (role, _) in feeds.items()})
    marked = kept.select("id", "nfp", "hashes", "blob", "draft").join(strips, "id", "left")

    def redo(row: Any) -> tuple[Any, ...]:
        entry_id, nfp, hashes, blob, cleaned, strip = row
        done = tasks.stripped(blob, strip)
        return (entry_id, *done, cleaned, strip) if done else (entry_id, nfp, hashes, blob, cleaned, None)

    redone = spark.createDataFrame(marked.where(F.col("strip").isNotNull()).rdd.map(redo), marked.schema)
    return marked.where(F.col("strip").isNull()).unionByName(redone)


def _report_bad(numbered: DataFrame, out: str, report: JobReport) -> None:
    bad = numbered.where(F.col("status") == "bad").select("id", "file", F.col("line_no").alias("line"), "why")
    _save(bad.orderBy("id").drop("id"), f"{out}/bad")
    report.bad = bad.count()
    report.errors = [f"{_short(r['file'])}:{r['line']}: skipped: {r['why']}"
                     for r in bad.orderBy("id").limit(BAD_SHOWN).collect()]


def _short(uri: str) -> str:
    """A local file's path as the user gave it ("file:/tmp/a.jsonl": /tmp/a.jsonl); any other URI as it is."""
    return uri[len("file:"):] if uri.startswith("file:/") and not uri.startswith("file:///") else \
        uri[len("file://"):] if uri.startswith("file:///") else uri


def _write(spark: SparkSession, out: DataFrame, feeds: FeedTable, path: str) -> None:
    _save(out.drop("link").orderBy("id"), f"{path}/entries")
    _save(out.where(F.col("link").isNotNull()).select("link.*").orderBy("copy_id"), f"{path}/links")
    rows = [(name, role, list(credit)) for name, (role, credit) in sorted(feeds.items())]
    _save(spark.createDataFrame(rows, "name string, role string, credit array<string>").coalesce(1), f"{path}/feeds")


def _save(df: DataFrame, path: str) -> None:
    try:
        df.write.mode("overwrite").parquet(path)
    except Exception as e:  # a path Spark cannot write (Py4J's error)
        raise SparkJobError(f"cannot write {path}: {_first_line(e)}") from e


def run(master: str | None, opts: JobOptions, quiet: bool = True, conf: Mapping[str, str] | None = None) -> JobReport:
    """Start a session (``conf``: Spark settings), run the job, stop the session."""
    spark = start_session(master, quiet, conf)
    try:
        report = run_job(spark, opts)
    except Exception as e:
        if isinstance(e, SparkJobError):
            raise
        raise SparkJobError(f"the job failed: {_first_line(e)}" + (f" (Spark's log: {spark_log()})" if quiet else "")) \
            from e
    finally:
        spark.stop()
    spark_log().unlink(missing_ok=True)
    return report
