"""The same detection on Apache Spark, for whole archives: ``relaywatch spark-ingest``.

The job calls the project's own code inside Spark tasks; it holds no rule of its own:

- ``tasks``: per partition, ``poll.archive.parse_line`` and ``detect.prepare.prepare`` (clean once,
  fingerprint once: the fingerprint travels as one binary value, ``carry``); per entry,
  ``detect.decide.shortlist`` of what it shares; per candidate pair, ``detect.measure.measure``
  and ``detect.decide.derives_either``;
- ``learn``: each feed's boilerplate, learned per feed in archive order with ``detect.boiler``'s
  ``learn``, ``removable`` and ``strip``, the wires' standard lines protected as they stood;
- ``pairs``: what the daemon's index would give a new entry, per fingerprint (its oldest
  holders: ``MatchParams.per_hash``, the cap on very common fingerprints), in Spark SQL; each
  entry's shortlist measured;
- ``graph``: the connected components of the confirmed pairs (label propagation, joins only);
- ``replay``: each component replayed through ``record.pipeline.Pipeline`` into a small
  in-memory ``Store``, entries in archive order, the index answering with the shortlist found
  above: groups, originals, ``via``, kind, coverage, lag and credit decided as ``ingest`` decides;
- ``job``: the driver (reads with Spark's readers, writes Parquet); ``schema``: the Parquet
  columns, taken from the store's tables; ``load``: ``relaywatch import`` into a SQLite store.
"""

from relaywatch.errors import RelaywatchError


class SparkJobError(RelaywatchError):
    """A job that cannot run (no Java, a bad master, a missing input): one line."""

    exit_code = 1


class SparkInputError(SparkJobError):
    """The job's input or options are wrong (a missing path, a bad feeds list)."""

    exit_code = 2
