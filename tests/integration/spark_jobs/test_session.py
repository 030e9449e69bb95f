"""The local session's own behaviour, seen from outside its JVM (a subprocess: its log is the
JVM's stderr, which pytest cannot capture in-process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.harness.output import assert_calm
from trustpipe.settings import LOCAL_JVM_ARCHIVES, LOCAL_JVM_OPTIONS

A_SMALL_JOB = """
import io, json, logging, sys
from pathlib import Path
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.linalg import Vectors
from pyspark.sql import functions as F
from spark_jobs.session import AVRO_FORMAT, local_session

# A handler on a stream closed before exit, as a test run's capture is: nothing may log into it late.
closed_at_exit = io.StringIO()
logging.getLogger().addHandler(logging.StreamHandler(closed_at_exit))
logging.getLogger().setLevel(logging.INFO)
out, log_file = sys.argv[1], Path(sys.argv[2])
spark = local_session("quiet-check", "local[1]", log_file=log_file)
schema = json.dumps({"type": "record", "name": "R", "fields": [{"name": "x", "type": "string"}]})
computed = spark.range(3).select(F.when(F.col("id") >= 0, "a").alias("x"))  # nullable to Spark
computed.write.format(AVRO_FORMAT).option("avroSchema", schema).mode("overwrite").save(out)
rows = [(Vectors.dense([0.0, 1.0]), 0.0), (Vectors.dense([1.0, 0.0]), 1.0)] * 4
LogisticRegression(maxIter=5).fit(spark.createDataFrame(rows, ["features", "label"]))  # MLlib's BLAS
spark_logger = spark.sparkContext._jvm.org.apache.logging.log4j.LogManager.getLogger("org.apache.spark.check")
spark_logger.warn("a warning for the log file")
spark_logger.error("an error for the console")
runtime = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
print("jvm options:", " ".join(str(a) for a in runtime.getInputArguments()))
spark.stop()
closed_at_exit.close()
"""


def test_a_local_session_keeps_its_warnings_in_its_log_and_shows_its_errors(tmp_path: Path) -> None:
    # GIVEN a small job in its own process (its JVM's stderr is the process's, which pytest cannot
    # capture in-process): an Avro write, a model fit, a warning and an error from a Spark logger
    log_file = tmp_path / "logs" / "spark.log"
    archive_was_there = (Path(os.environ[LOCAL_JVM_ARCHIVES]) / "spark.jsa").is_file()
    # WHEN it runs on a local session
    done = subprocess.run(
        [sys.executable, "-c", A_SMALL_JOB, str(tmp_path / "out"), str(log_file)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert list((tmp_path / "out").glob("*.avro"))
    # THEN the console has the error and no start-up warnings, progress bars or late logging
    assert "ERROR check: an error for the console" in output
    # and its JVM took the local run's options (the suite's thrifty ones, tests/conftest.py)
    options = next(line for line in output.splitlines() if line.startswith("jvm options:")).split()
    assert set(os.environ[LOCAL_JVM_OPTIONS].split()) <= set(options)
    # and mapped the suite's class-data archive of Spark drivers, once it was made
    archive = Path(os.environ[LOCAL_JVM_ARCHIVES]) / "spark.jsa"
    assert (f"-XX:SharedArchiveFile={archive}" in options) == archive_was_there
    assert_calm(output, "a small job on a local session")
    # AND the warning is in the run's log, where the Avro writer's per-file one is not
    log = log_file.read_text()
    assert "WARN check: a warning for the log file" in log
    assert "ERROR check: an error for the console" in log
    assert "AvroSerializer" not in output + log


def test_the_driver_jvm_runs_with_the_jit_options_of_the_generated_stages(spark: Any) -> None:
    from spark_jobs.session import GENERATED_STAGE, STAGE_NODE_LIMIT

    # GIVEN the shared local session WHEN its JVM's own arguments are read
    jvm = spark.sparkContext._jvm
    arguments = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    # THEN large methods are compiled at all, and Spark's generated stages have C2's graph capped
    assert "-XX:-DontCompileHugeMethods" in arguments
    assert f"-XX:CompileCommand=MaxNodeLimit,{GENERATED_STAGE},{STAGE_NODE_LIMIT}" in arguments
