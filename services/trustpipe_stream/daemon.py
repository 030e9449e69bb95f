"""The KCL's MultiLangDaemon as a stream worker's child: its properties from the deployment's
settings, started and stopped by pid.

The daemon (Java, the jars of the ``kclpy-ext`` wheel) leases shards, balances them across the
consumer group's workers, and runs ``processor`` (a command) once per leased shard. On SIGTERM it
asks every processor to checkpoint (``shutdownGraceMillis``) and releases its leases.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import amazon_kclpy

from trustpipe.aws import LOCAL_CREDENTIALS
from trustpipe.errors import UserError
from trustpipe.settings import Settings, local_jvm_options

MAIN_CLASS = "software.amazon.kinesis.multilang.MultiLangDaemon"
JVM_KIND = "kcl"
"""What a local daemon's class-data archive is named for (``trustpipe.settings.local_jvm_options``)."""
KINESIS_MAX_RECORDS_PER_GET = 10_000
"""Kinesis GetRecords returns at most 10,000 records (or 10 MiB) a call."""
DEFAULT_SHUTDOWN_GRACE_MS = 60_000
"""Time the processors get for a final checkpoint on SIGTERM: well inside the units' stop
timeout (540 s) and the ASG's drain hook (600 s)."""
LOCAL_TUNING = {
    # The KCL's defaults suit fleets that live for days: a new application's first record came
    # after 126 s on the local stack; these bring it to about 30 s.
    "shardSyncIntervalMillis": 5_000,
    "workerMetricsReporterFreqInMillis": 2_000,
    "leaseAssignmentIntervalMillis": 2_000,
    "failoverTimeMillis": 6_000,
    # Kinesis serves 5 GetRecords calls a second per shard: no faster than that, as on AWS.
    "idleTimeBetweenReadsInMillis": 200,
    # Every local worker shares one machine, so their CPU tells the leader nothing: balance the
    # leases by count (KCL 3 balances by worker metrics otherwise).
    "disableWorkerMetrics": "true",
    # Without worker metrics the leader balances by throughput, and on one shared machine its
    # default (every third assignment round, past 10% off the average) moved a lease back and
    # forth every few seconds, stalling its shard 10-15 s each time. Rebalance every 15th round
    # (30 s) and only past 60% off: the first assignment may give one worker every shard, and
    # that worker is still relieved.
    "varianceBalancingFrequency": 15,
    "reBalanceThresholdPercentage": 60,
}


class JavaMissingError(UserError):
    """The KCL's daemon needs Java 17."""


@dataclass(frozen=True)
class Consumer:
    """One worker of a consumer group on one stream."""

    application: str
    """The consumer group: the KCL names its lease, coordinator and worker-metrics tables after it."""
    stream_name: str
    processor: Sequence[str]
    """The command the daemon runs once per leased shard (it speaks the multilang protocol)."""
    worker_id: str
    """Stable across restarts (host + slot), so a restarted worker takes its leases back at once."""
    region: str
    endpoint: str | None = None
    """The moto server locally; None on AWS."""
    shutdown_grace_ms: int = DEFAULT_SHUTDOWN_GRACE_MS
    max_records: int = KINESIS_MAX_RECORDS_PER_GET
    idle_between_reads_ms: int | None = None
    """Pause between GetRecords calls of a shard; None: 200 ms locally, the KCL's default on AWS."""


def application_name(stream_name: str, group: str) -> str:
    """The KCL application of consumer ``group`` on ``stream_name``: its lease table's name (the
    workers module grants each service exactly these tables)."""
    return f"{stream_name}-{group}"


def consumer(
    settings: Settings, group: str, stream_name: str, processor: Sequence[str], worker_id: str
) -> Consumer:
    """The consumer ``group`` (scorer, importer, alerter) of ``stream_name``."""
    return Consumer(
        application=application_name(stream_name, group),
        stream_name=stream_name,
        processor=tuple(processor),
        worker_id=worker_id,
        region=settings.region,
        endpoint=settings.aws_endpoint,
    )


def properties(c: Consumer) -> str:
    """The daemon's properties file."""
    values: dict[str, object] = {
        "executableName": shlex.join(c.processor),
        "streamName": c.stream_name,
        "applicationName": c.application,
        "workerId": c.worker_id,
        "regionName": c.region,
        "AwsCredentialsProvider": "DefaultCredentialsProvider",
        "processingLanguage": "python/3.11",
        "initialPositionInStream": "TRIM_HORIZON",
        "retrievalMode": "POLLING",
        "maxRecords": c.max_records,
        "shutdownGraceMillis": c.shutdown_grace_ms,
        # An idle shard still reaches the processor (an empty batch): the worker's heartbeat.
        "callProcessRecordsEvenForEmptyRecordList": "true",
        # On AWS the daemon publishes its own metrics; the moto server has no use for them.
        "metricsLevel": "NONE" if c.endpoint else "SUMMARY",
        # Without it, the KCL (3.1.3) asks ListShards for the shard's description when it builds
        # a batch's task (to drop KPL-aggregated duplicates after a reshard; no producer here
        # aggregates), and when that call fails (throttled, dropped) the batch it had already
        # fetched is skipped ("The incoming data has been skipped"): the next batch's checkpoint
        # moves past records the processor never saw. Leases still sync on their schedule.
        "skipShardSyncAtWorkerInitializationIfLeasesExist": "true",
    }
    if c.endpoint:
        values.update(kinesisEndpoint=c.endpoint, dynamoDBEndpoint=c.endpoint, **LOCAL_TUNING)
    if c.idle_between_reads_ms is not None:
        values["idleTimeBetweenReadsInMillis"] = c.idle_between_reads_ms
    return "".join(f"{key} = {value}\n" for key, value in values.items())


def jars() -> Path:
    """The KCL multilang jars shipped in the kclpy-ext wheel."""
    return Path(amazon_kclpy.__file__).parent / "jars"


def command(properties_file: Path, java: str | None = None) -> list[str]:
    java = java or shutil.which("java")
    if java is None:
        raise JavaMissingError("java is not on PATH: the Kinesis Client Library's daemon needs Java 17")
    return [
        java,
        *local_jvm_options(JVM_KIND),  # a local run's (the test suite's), none on AWS
        "-Daws.cborEnabled=false",  # moto has no CBOR; Kinesis on AWS takes JSON as well
        "-cp",
        f"{jars()}/*",
        MAIN_CLASS,
        "--properties-file",
        str(properties_file),
    ]


class Daemon:
    """One MultiLangDaemon, its properties and log under ``state_dir``."""

    def __init__(self, c: Consumer, state_dir: Path) -> None:
        self.consumer, self.state_dir = c, state_dir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        props = self.state_dir / f"{self.consumer.worker_id}.properties"
        props.write_text(properties(self.consumer))
        env = dict(os.environ, AWS_REGION=self.consumer.region, CBOR_ENABLED="false")
        if self.consumer.endpoint:
            env.update(AWS_ACCESS_KEY_ID=LOCAL_CREDENTIALS["aws_access_key_id"])
            env.update(AWS_SECRET_ACCESS_KEY=LOCAL_CREDENTIALS["aws_secret_access_key"])
        log = (self.state_dir / f"{self.consumer.worker_id}.log").open("ab")
        self.proc = subprocess.Popen(
            command(props),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self.proc.pid

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM the daemon (its processors get their final checkpoint), wait, then make sure
        nothing of its process group is left; the daemon's exit code."""
        if self.proc is None:
            return None
        grace = timeout if timeout is not None else self.consumer.shutdown_grace_ms / 1000 + 15
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._kill_group()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the daemon and its processors at once (a crashed host)."""
        if self.proc is not None:
            self._kill_group()
            self.proc.wait()

    def _kill_group(self) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
