"""Connected components of the confirmed pairs, with joins only (no graph library, nothing on the driver).

Label propagation: every entry takes the smallest archive id among itself and its neighbours'
labels until no label changes; each round also lets an entry take its label's label (pointer
jumping), so a chain of n copies settles in about log n rounds, not n. A story's group is a star
(copies to their original, relays to copies): two or three rounds.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

MAX_ROUNDS = 60


def components(edges: DataFrame) -> DataFrame:
    """``edges`` (``a``, ``b``): (``id``, ``comp``) for every entry in an edge, ``comp`` the smallest id
    of its component."""
    both = edges.select(F.col("a"), F.col("b")).union(edges.select(F.col("b").alias("a"), F.col("a").alias("b")))
    both = both.distinct().localCheckpoint()
    labels = both.groupBy(F.col("a").alias("id")).agg(F.least(F.min("b"), F.col("a")).alias("comp"))
    labels = labels.localCheckpoint()
    for _ in range(MAX_ROUNDS):
        spread = both.join(labels.withColumnRenamed("id", "b"), "b").select(F.col("a").alias("id"), "comp")
        jumped = labels.alias("l").join(labels.alias("m"), F.col("l.comp") == F.col("m.id")) \
            .select(F.col("l.id").alias("id"), F.col("m.comp").alias("comp"))
        new = spread.union(jumped).union(labels).groupBy("id").agg(F.min("comp").alias("comp")).localCheckpoint()
        changed = new.alias("n").join(labels.alias("o"), "id").where(F.col("n.comp") != F.col("o.comp")).count()
        labels = new
        if not changed:
            break
    return labels
