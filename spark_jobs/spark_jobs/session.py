"""SparkSession for the jobs: local[*] on a laptop or in tests, the cluster's on EMR."""

from __future__ import annotations

import logging
import os
import shlex
import sys
import tempfile
from pathlib import Path

from pyspark.sql import SparkSession

from trustpipe.settings import local_jvm_options

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
LOCAL_LOG4J2 = Path(__file__).with_name("log4j2-local.properties")
"""The local JVM's log configuration: Spark's warnings to the run's log file, errors to the console."""
LOG_FILE_PROPERTY = "trustpipe.spark.log"
LOCAL_ADDRESS = "127.0.0.1"
JVM_KIND = "spark"
"""What a local driver's class-data archive is named for (``trustpipe.settings.local_jvm_options``)."""
LOCAL_CONF = {
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": LOCAL_ADDRESS,
    "spark.driver.bindAddress": LOCAL_ADDRESS,
}
"""A local session draws no stage progress bars over the caller's output, and its driver binds to
loopback and is reached there."""
NETLIB_LIBRARIES = ("blas", "lapack", "arpack")
NO_NATIVE_NETLIB = " ".join(f"-Ddev.ludovic.netlib.{lib}.allowNative=false" for lib in NETLIB_LIBRARIES)
"""MLlib's netlib tries the system's BLAS first; where there is none, its JNI library prints a
dlopen failure to stderr (native code, beyond any logger) before falling back to the Java one."""


def local_session(
    app_name: str, master: str = "local[*]", shuffle_partitions: int = 8, log_file: Path | None = None
) -> SparkSession:
    """A local session with the job's settings; the same builder runs on EMR with ``master`` yarn,
    where the cluster's logging stays as it is. A local JVM logs its warnings to ``log_file``
    (default: ``<tmp>/trustpipe-spark/<app_name>.log``) and only its errors to the console."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    quiet_gateway_chatter()
    driver_options = JIT_OPTIONS
    builder = SparkSession.builder.master(master).appName(app_name)
    if master.startswith("local"):
        # Read by spark-submit before any conf: without it a host whose name resolves to loopback
        # is warned about, and another interface's address picked.
        os.environ.setdefault("SPARK_LOCAL_IP", LOCAL_ADDRESS)
        driver_options = " ".join(
            filter(
                None,
                (
                    JIT_OPTIONS,
                    local_logging_options(log_file or default_log_file(app_name)),
                    shlex.join(local_jvm_options(JVM_KIND)),
                ),
            )
        )
        for key, value in LOCAL_CONF.items():
            builder = builder.config(key, value)
    session = (
        builder.config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.driver.memory", "3g")
        .config("spark.sql.avro.compression.codec", "deflate")
        .config("spark.driver.extraJavaOptions", driver_options)
        .config("spark.executor.extraJavaOptions", JIT_OPTIONS)
        .getOrCreate()
    )
    quiet_nullability_warning(session)
    return session


def default_log_file(app_name: str) -> Path:
    """Where a local session without a run's state dir logs (one file per app, appended)."""
    return Path(tempfile.gettempdir()) / "trustpipe-spark" / f"{app_name}.log"


def local_logging_options(log_file: Path) -> str:
    """The local driver JVM's options for its log: the packaged configuration, the file it
    writes (quoted: Spark splits the options like a shell), no native netlib."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    return " ".join(
        (
            f"-Dlog4j2.configurationFile={LOCAL_LOG4J2.resolve().as_uri()}",
            f'"-D{LOG_FILE_PROPERTY}={log_file.resolve()}"',
            NO_NATIVE_NETLIB,
        )
    )


def quiet_nullability_warning(session: SparkSession) -> None:
    """Spark's Avro writer warns once per file written that the DataFrame's columns are nullable
    where the Avro schema's fields are not (computed columns are always nullable to Spark); a null
    would still fail the write with its own error. Its other loggers keep their levels."""
    jvm = session.sparkContext._jvm
    assert jvm is not None
    log4j = jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setLevel(AVRO_SERIALIZER_LOGGER, log4j.Level.ERROR)


def quiet_gateway_chatter() -> None:
    """py4j logs each connection it opens and closes at INFO, the last ones from finalizers at
    interpreter exit, into whatever handlers the root logger has by then (one a test run's capture
    has already closed gives a ``--- Logging error ---`` traceback). Its warnings and errors still
    propagate; a level set on purpose stays."""
    gateway_logger = logging.getLogger("py4j")
    if gateway_logger.level == logging.NOTSET:
        gateway_logger.setLevel(logging.WARNING)
