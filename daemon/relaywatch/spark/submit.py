"""The program to give ``spark-submit``: it runs relaywatch's command line in the driver that
spark-submit starts, on the session it configured (its --master, --conf, --archives).

    spark-submit --master yarn [options] "$(python -c 'import relaywatch.spark.submit as s; print(s.__file__)')" \
        spark-ingest 's3a://bucket/news/*.jsonl.gz' --feeds feeds.json --out s3a://bucket/relaywatch-out
"""

from __future__ import annotations

import sys

from relaywatch.cli.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
