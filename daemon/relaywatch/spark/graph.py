"""Connected components of the confirmed pairs, with joins only (no graph library, nothing on the driver).

Label propagation: every entry takes the smallest archive id among itself and its neighbours'
labels until no label changes; each round also lets an entry take its label's label (pointer
jumping), so a chain of n copies settles in about log n rounds, not n. A story's group is a star
(copies to their original, relays to copies): two or three rounds.

On RDDs (``reduceByKey``, ``join``): their aggregation spills to disk when memory is short. The
same on DataFrames failed on 200,644 entries with 2 GB of driver memory in local mode
(AGGREGATE_OUT_OF_MEMORY in the hash aggregate of a round), each round's labels held in memory.
"""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

MAX_ROUNDS = 60


def components(spark: SparkSession, edges: DataFrame) -> DataFrame:
    """``edges`` (``a``, ``b``): (``id``, ``comp``) for every entry in an edge, ``comp`` the smallest id
    of its component."""
    both = edges.rdd.flatMap(lambda r: ((r[0], r[1]), (r[1], r[0]))).distinct() \
        .persist(StorageLevel.MEMORY_AND_DISK)
    n = both.getNumPartitions()  # every shuffle keeps it: a union adds its inputs' partitions up
    labels = both.reduceByKey(min, n).map(lambda kv: (kv[0], min(kv))).persist(StorageLevel.MEMORY_AND_DISK)
    for _ in range(MAX_ROUNDS):
        spread = both.join(labels, n).map(lambda kv: (kv[1][0], kv[1][1]))  # (a, (b, label of a)): b may take it
        jumped = labels.map(lambda kv: (kv[1], kv[0])).join(labels, n).map(lambda kv: (kv[1][0], kv[1][1]))
        new = spread.union(jumped).union(labels).reduceByKey(min, n).persist(StorageLevel.MEMORY_AND_DISK)
        changed = new.join(labels, n).filter(lambda kv: kv[1][0] != kv[1][1]).count()
        labels.unpersist()
        labels = new
        if not changed:
            break
    both.unpersist()
    return spark.createDataFrame(labels, "id long, comp long")
