"""The job's Spark schemas. The output's columns are the store's (``store.bulk.columns`` of a fresh
in-memory store): a column a migration adds to ``entries``, ``reposts`` or ``fingerprints`` is in
the Parquet output and back in the store after ``relaywatch import`` with no change here."""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    DataType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from relaywatch.store import Store
from relaywatch.store.bulk import EXPORTED, Column

_TYPES: dict[str, DataType] = {"INTEGER": LongType(), "REAL": DoubleType(), "TEXT": StringType(),
                               "BLOB": BinaryType()}

PREPARED = StructType([
    StructField("file", StringType()), StructField("block", LongType()), StructField("idx", LongType()),
    StructField("status", StringType()), StructField("why", StringType()), StructField("feed", StringType()),
    StructField("role", StringType()), StructField("guid", StringType()), StructField("content_hash", StringType()),
    StructField("nfp", IntegerType()), StructField("hashes", ArrayType(LongType())),
    StructField("blob", BinaryType()), StructField("bkeys", ArrayType(LongType())),
    StructField("bwords", ArrayType(IntegerType())), StructField("draft", BinaryType()),
])

SHORTLIST = StructType([
    StructField("id", LongType()), StructField("cand", LongType()), StructField("rank", IntegerType()),
    StructField("shared", LongType()), StructField("rarity", DoubleType()),
])

FOUND = ArrayType(StructType([StructField("cand", LongType()), StructField("shared", LongType()),
                              StructField("rarity", DoubleType())]))


def store_columns() -> dict[str, list[Column]]:
    """The columns of the exported tables, as this relaywatch's migrations make them."""
    with Store(":memory:") as store:
        return {table: store.bulk.columns(table) for table in EXPORTED}


def _field(c: Column) -> StructField:
    return StructField(c.name, _TYPES.get(c.type, StringType()))


def output_schema(columns: dict[str, list[Column]]) -> StructType:
    """What ``replay.replay_partition`` yields: an entry, its fingerprints, and its link as a copy."""
    fields = [StructField("feed", StringType()) if c.references == "feeds" else _field(c)
              for c in columns["entries"]]
    fields += [StructField(f"fp_{c.name}", _TYPES.get(c.type, StringType()))
               for c in columns["fingerprints"] if c.name != "entry_id"]
    fields.append(StructField("hashes", ArrayType(LongType())))
    fields.append(StructField("link", StructType([_field(c) for c in columns["reposts"] if c.name != "id"])))
    return StructType(fields)
