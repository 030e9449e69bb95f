"""Class-data-sharing archives for the suite's JVMs (``trustpipe.settings.LOCAL_JVM_ARCHIVES``).

Half of a small local Spark driver's CPU is its start: loading and verifying some 15,000 classes,
again in every JVM (every worker's session, the demo's, the chaos run's, each spark-submit of the
Airflow tests). A JVM started with ``-XX:ArchiveClassesAtExit`` writes the classes it loaded to an
archive at its exit; later JVMs of the same Java and classpath map them from it. One short job of
each kind (a Spark session's, a KCL daemon's) makes them while the workers collect, in a folder
named for what they depend on (the Java, the jars, the JVM options): a changed jar or Java makes a
new folder, never a stale archive. Until an archive is written (renamed into place whole), a JVM
of its kind starts without it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tests.harness.paths import ROOT
from trustpipe.aws import LOCAL_CREDENTIALS
from trustpipe.settings import ARCHIVE_SUFFIX, LOCAL_JVM_ARCHIVES, LOCAL_JVM_OPTIONS

FOLDER = ROOT / "build" / "jvm-archives"
KCL_RUN_SECONDS = 8.0
"""How long the KCL daemon runs before it is stopped and writes its archive: its start, its
clients' and its scheduler's classes (no stream answers it; the classes are what matter)."""
TIMEOUT_SECONDS = 300
Job = Callable[[Path, str], None]
"""Runs a JVM of one kind in a temporary folder, with the option that makes it write its archive."""

SPARK_JOB = """
import json, sys
from pathlib import Path
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import functions as F
from spark_jobs.session import AVRO_FORMAT, local_session

out, log_file = sys.argv[1], sys.argv[2]
spark = local_session("jvm-archive", "local[2]", shuffle_partitions=4, log_file=Path(log_file))
schema = json.dumps({"type": "record", "name": "R", "fields": [
    {"name": "k", "type": "string"}, {"name": "x", "type": "double"}, {"name": "label", "type": "double"}]})
df = spark.range(200).select(
    (F.col("id") % 7).cast("string").alias("k"),
    (F.col("id") / 10).alias("x"),
    (F.col("id") % 2).cast("double").alias("label"),
)
df.write.format(AVRO_FORMAT).option("avroSchema", schema).mode("overwrite").save(out)
back = spark.read.format(AVRO_FORMAT).load(out)
counts = back.groupBy("k").agg(F.count("*").alias("n"), F.avg("x").alias("m"))
joined = back.join(counts, "k").withColumn("w", F.when(F.col("n") > 3, F.col("x")).otherwise(0.0))
features = VectorAssembler(inputCols=["x", "w"], outputCol="features").transform(joined)
model = LogisticRegression(maxIter=5).fit(features)
BinaryClassificationEvaluator().evaluate(model.transform(features))
joined.orderBy(F.desc("x")).limit(5).collect()
spark.stop()
"""


def folder() -> Path:
    """This checkout's archives for its Java, jars and the suite's JVM options."""
    return FOLDER / _fingerprint()


def start(into: Path) -> threading.Thread | None:
    """Make each kind's archive missing from ``into`` in the background (None when all are
    there); every JVM the suite starts afterwards looks for them there."""
    os.environ[LOCAL_JVM_ARCHIVES] = str(into)
    missing = [kind for kind in ("spark", "kcl") if not (into / f"{kind}{ARCHIVE_SUFFIX}").is_file()]
    if not missing:
        return None
    into.mkdir(parents=True, exist_ok=True)
    thread = threading.Thread(target=_make_all, args=(into, missing), name="jvm-archives", daemon=True)
    thread.start()
    return thread


def _make_all(into: Path, kinds: Iterable[str]) -> None:
    makers: dict[str, Job] = {"spark": _spark, "kcl": _kcl}
    threads = [threading.Thread(target=_make, args=(into, kind, makers[kind])) for kind in kinds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _make(into: Path, kind: str, run: Job) -> None:
    """One archive: written by its JVM under a temporary name as it exits, renamed into place
    when whole; none when the job failed (its JVMs then simply start without one)."""
    with tempfile.TemporaryDirectory(prefix=f".{kind}-", dir=into) as tmp:  # renamed within a file system
        partial = Path(tmp) / f"{kind}{ARCHIVE_SUFFIX}"
        try:
            run(Path(tmp), f"-XX:ArchiveClassesAtExit={partial}")
        except (OSError, subprocess.SubprocessError):
            return
        if partial.is_file() and partial.stat().st_size > 0:
            os.replace(partial, into / partial.name)


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != LOCAL_JVM_ARCHIVES}


def _wait_for_group(proc: subprocess.Popen[bytes]) -> None:
    """Wait for ``proc`` and then for every process of its session (started with
    ``start_new_session``): a JVM writes its archive after the Python that started it exits."""
    proc.wait(TIMEOUT_SECONDS)
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise subprocess.TimeoutExpired(proc.args, TIMEOUT_SECONDS)


def _spark(tmp: Path, dump: str) -> None:
    env = _environment()
    env[LOCAL_JVM_OPTIONS] = f"{env.get(LOCAL_JVM_OPTIONS, '')} {dump}".strip()
    proc = subprocess.Popen(
        [sys.executable, "-c", SPARK_JOB, str(tmp / "out"), str(tmp / "spark.log")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    _wait_for_group(proc)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, proc.args)


def _kcl(tmp: Path, dump: str) -> None:
    from trustpipe_stream import daemon

    c = daemon.Consumer(
        application="jvm-archive",
        stream_name="jvm-archive",
        processor=(sys.executable, "-c", "pass"),
        worker_id="jvm-archive",
        region="us-east-1",
        endpoint="http://127.0.0.1:9",  # the discard port: nothing answers, the classes load
        shutdown_grace_ms=1_000,
    )
    props = tmp / "archive.properties"
    props.write_text(daemon.properties(c))
    argv = daemon.command(props)
    argv.insert(1, dump)
    env = _environment() | {
        "AWS_REGION": c.region,
        "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
    }
    with subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    ) as proc:
        try:
            proc.wait(KCL_RUN_SECONDS)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)  # the JVM writes its archive as it exits
            proc.wait(TIMEOUT_SECONDS)


def _fingerprint() -> str:
    from pyspark.find_spark_home import _find_spark_home

    from trustpipe_stream import daemon

    digest = hashlib.sha256(os.environ.get(LOCAL_JVM_OPTIONS, "").encode())
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False, timeout=60)
    digest.update(java.stderr.encode())
    for jars in (Path(_find_spark_home()) / "jars", daemon.jars()):
        for jar in sorted(jars.glob("*.jar")):
            st = jar.stat()
            digest.update(f"{jar}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
