"""SparkSession for the jobs: local[*] on a laptop or in tests, the cluster's on EMR."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

# pyspark 4.3 carries Spark's Avro source in its core jar but registers no short name for it;
# EMR registers "avro". Either reads the same files.
AVRO_FORMAT = "org.apache.spark.sql.avro.AvroFileFormat"
GENERATED_STAGE = (
    "org.apache.spark.sql.catalyst.expressions.GeneratedClass$GeneratedIteratorForCodegenStage*::processNext"
)
STAGE_NODE_LIMIT = 40_000
JIT_OPTIONS = " ".join(
    (
        "-XX:-DontCompileHugeMethods",
        "-XX:CompileCommand=quiet",
        f"-XX:CompileCommand=MaxNodeLimit,{GENERATED_STAGE},{STAGE_NODE_LIMIT}",
    )
)
"""The model is one wide projection; its generated stage method (about 17 kB of bytecode) exceeds
the JVM's 8,000-byte limit for compiling at all, and uncompiled it runs at half speed: it is
compiled regardless. The optimising compiler (C2) either gives up on a method that large or
compiles it only to discard it at the next branch its profile had not seen, and each time the
method runs interpreted for the seconds a recompile takes (C1's profiling tier cannot compile it
either). Capping C2's graph for Spark's generated stages sends the large ones straight to C1's
full optimisation, where they stay; smaller stages (a few kB) still fit under the cap and get C2
(bench P3: 0.37 -> 0.51 of a bare Avro read -> write at 1M rows)."""
AVRO_SERIALIZER_LOGGER = "org.apache.spark.sql.avro.AvroSerializer"


def local_session(app_name: str, master: str = "local[*]", shuffle_partitions: int = 8) -> SparkSession:
    """A local session with the job's settings; the same builder runs on EMR without ``master``."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.driver.memory", "3g")
        .config("spark.sql.avro.compression.codec", "deflate")
        .config("spark.driver.extraJavaOptions", JIT_OPTIONS)
        .config("spark.executor.extraJavaOptions", JIT_OPTIONS)
        .getOrCreate()
    )
    quiet_nullability_warning(session)
    return session


def quiet_nullability_warning(session: SparkSession) -> None:
    """Spark's Avro writer warns once per file written that the DataFrame's columns are nullable
    where the Avro schema's fields are not (computed columns are always nullable to Spark); a null
    would still fail the write with its own error. Its other loggers keep their levels."""
    jvm = session.sparkContext._jvm
    assert jvm is not None
    log4j = jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setLevel(AVRO_SERIALIZER_LOGGER, log4j.Level.ERROR)
