"""The local session's own behaviour, seen from outside its JVM (a subprocess: its log is the
JVM's stderr, which pytest cannot capture in-process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

WRITE_NULLABLE_COLUMN_AS_NON_NULL_AVRO = """
import json, sys
from pyspark.sql import functions as F
from spark_jobs.session import AVRO_FORMAT, local_session
spark = local_session("quiet-check", "local[1]")
schema = json.dumps({"type": "record", "name": "R", "fields": [{"name": "x", "type": "string"}]})
computed = spark.range(3).select(F.when(F.col("id") >= 0, "a").alias("x"))  # nullable to Spark
computed.write.format(AVRO_FORMAT).option("avroSchema", schema).mode("overwrite").save(sys.argv[1])
spark.stop()
"""


def test_writing_avro_does_not_warn_once_per_file_but_spark_still_speaks(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WRITE_NULLABLE_COLUMN_AS_NON_NULL_AVRO, str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert list((tmp_path / "out").glob("*.avro"))
    assert "AvroSerializer" not in output
    assert "WARN" in output  # Spark's other warnings (its own start-up ones) still show
