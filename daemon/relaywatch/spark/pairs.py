"""Candidate pairs from shared fingerprints, and which of them are related: the job's two shuffles
before the groups.

``candidates`` reproduces what the daemon's index answers each entry when it is stored, with
Spark SQL's own operators (no Python row per fingerprint): every (fingerprint, holder) ranked by
archive id within its fingerprint; the ``per_hash`` oldest are the only holders the index reads;
an entry at rank r gets the older of them, each counted as min(r, ``per_hash``) holders
(``store.index.candidates`` counts the entry itself, then leaves it out). Per entry, what it
shares with each older entry (fingerprints, rarity) comes to Python once, in three arrays of one
aggregation, for ``tasks.shortlist_one``.

``related`` joins each shortlisted pair with its candidate's fingerprint, made when it was
prepared (``carry``), gathers each entry's pairs with its own, and measures them
(``tasks.confirm_pairs``); ``tasks.related_of`` applies ``assess``'s give-up rule, in the same task.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType

from relaywatch.detect.decide import MatchParams
from relaywatch.spark import tasks
from relaywatch.spark.schema import FOUND, SHORTLIST


def index_rows(kept: DataFrame, per_hash: int) -> DataFrame:
    """(id, old, n): for each entry and each fingerprint it shares with older entries, those of the
    fingerprint's ``per_hash`` oldest holders that are older, and the holders counted (``n``)."""
    holders = kept.select("id", F.explode("hashes").alias("hash"))
    ranked = holders.withColumn("r", F.row_number().over(Window.partitionBy("hash").orderBy("id")))
    oldest = ranked.where(F.col("r") <= per_hash).select("hash", F.col("id").alias("old"),
                                                         F.col("r").alias("old_r"))
    return ranked.join(oldest, "hash").where(F.col("old_r") < F.col("r")) \
        .select("id", "old", F.least(F.col("r"), F.lit(per_hash)).alias("n"))


def candidates(spark: SparkSession, kept: DataFrame, p: MatchParams) -> DataFrame:
    """(id, cand, rank, shared, rarity): each entry's shortlist, as the daemon's index and
    ``decide.shortlist`` would give it when the entry is stored. Rarity is summed as
    ``tasks.shortlist_one`` sums it (1 / n over the sorted counts, in order: the same float)."""
    rarity = F.aggregate(F.array_sort(F.collect_list("n")), F.lit(0.0), lambda acc, n: acc + 1.0 / n)
    counted = index_rows(kept, p.per_hash).repartition("id") \
        .groupBy("id", "old").agg(F.count("n").alias("shared"), rarity.alias("rarity")) \
        .groupBy("id").agg(F.collect_list("old"), F.collect_list("shared"), F.collect_list("rarity")) \
        .join(kept.select("id", "nfp"), "id")
    short = counted.rdd.mapPartitions(
        lambda rows: (s for r in rows for s in tasks.shortlist_one(r[0], r[4], zip(r[1], r[2], r[3], strict=True), p)))
    return spark.createDataFrame(short, SHORTLIST)


def related(spark: SparkSession, kept: DataFrame, short: DataFrame, p: MatchParams) -> DataFrame:
    """(id, found): the related candidates of each entry that has any (``tasks.confirm_entries``).
    Each pair carries its candidate's fingerprint; the entry's comes once, with its shortlist."""
    blobs = kept.select("id", "blob")
    with_cand = short.join(blobs.select(F.col("id").alias("cand"), F.col("blob").alias("cand_blob")), "cand")
    per_entry = with_cand.groupBy("id") \
        .agg(F.collect_list(F.struct("cand", "rank", "shared", "rarity", "cand_blob")).alias("pairs")) \
        .join(blobs, "id").select("id", "blob", "pairs")
    found = per_entry.rdd.mapPartitions(lambda rows: tasks.confirm_entries(rows, p))
    return spark.createDataFrame(found, StructType([StructField("id", LongType()), StructField("found", FOUND)]))
