"""The local session's own behaviour, seen from outside its JVM (a subprocess: its log is the
JVM's stderr, which pytest cannot capture in-process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

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


def test_the_driver_jvm_runs_with_the_jit_options_of_the_generated_stages(spark: Any) -> None:
    from spark_jobs.session import GENERATED_STAGE, STAGE_NODE_LIMIT

    # GIVEN the shared local session WHEN its JVM's own arguments are read
    jvm = spark.sparkContext._jvm
    arguments = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    # THEN large methods are compiled at all, and Spark's generated stages have C2's graph capped
    assert "-XX:-DontCompileHugeMethods" in arguments
    assert f"-XX:CompileCommand=MaxNodeLimit,{GENERATED_STAGE},{STAGE_NODE_LIMIT}" in arguments
