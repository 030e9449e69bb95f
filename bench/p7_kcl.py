"""P7: records/s through the KCL's MultiLangDaemon and trustpipe's shard processor (a no-op
worker) against bare GetRecords on the same stream of the same moto server, and the time from
the daemon's start to its first record.

Both read up to 10,000 records a call without pausing between calls (on AWS both would be held
to 5 calls a second per shard); the daemon's rate counts from its first batch to its last, so its
start-up is reported apart.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import Result, moto_client
from trustpipe_stack.servers import MotoServer
from trustpipe_stream.daemon import KINESIS_MAX_RECORDS_PER_GET, Consumer, Daemon

RECORDS = 100_000
SHARDS = 2
STREAM = "p7"
PAYLOAD = b"x" * 600
"""About the size of a framed email-metadata record."""
KINESIS_MAX_RECORDS_PER_PUT = 500


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="trustpipe-p7-") as tmp:
        work = Path(tmp)
        moto = MotoServer(work / "moto")
        moto.start()
        try:
            return [_measure(moto.endpoint, work)]
        finally:
            moto.stop()


def _fill(kinesis: Any) -> None:
    kinesis.create_stream(StreamName=STREAM, ShardCount=SHARDS)
    kinesis.get_waiter("stream_exists").wait(StreamName=STREAM)
    for start in range(0, RECORDS, KINESIS_MAX_RECORDS_PER_PUT):
        batch = [
            {"Data": PAYLOAD, "PartitionKey": f"k{n}"}
            for n in range(start, start + KINESIS_MAX_RECORDS_PER_PUT)
        ]
        assert kinesis.put_records(StreamName=STREAM, Records=batch)["FailedRecordCount"] == 0


def _bare_rate(kinesis: Any) -> float:
    """GetRecords over every shard from the start, as many records a call as the daemon asks for."""
    began, count = time.perf_counter(), 0
    for shard in kinesis.list_shards(StreamName=STREAM)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=KINESIS_MAX_RECORDS_PER_GET)
            count += len(response["Records"])
            if not response["Records"] and response.get("MillisBehindLatest", 0) == 0:
                break
            iterator = response.get("NextShardIterator")
    assert count == RECORDS, count
    return count / (time.perf_counter() - began)


def _daemon_rate(endpoint: str, work: Path) -> tuple[float, float]:
    out = work / "batches.txt"
    processor = [sys.executable, "-m", "bench.kcl_noop_worker", str(out)]
    # The bare loop does not pause between calls either (moto never throttles): what is measured
    # is the daemon's and the multilang protocol's own cost.
    consumer = Consumer("p7-noop", STREAM, processor, "p7-0", "us-east-1", endpoint, idle_between_reads_ms=1)
    daemon = Daemon(consumer, work / "kcl")
    started = time.time()
    daemon.start()
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            batches = [line.split() for line in out.read_text().splitlines()] if out.exists() else []
            if sum(int(n) for _, n in batches) >= RECORDS:
                break
            time.sleep(0.5)
        else:
            raise TimeoutError("the daemon did not deliver every record within 300 s")
    finally:
        daemon.stop(timeout=60)
    times = [float(t) for t, _ in batches]
    first_batch = int(batches[0][1])
    return (RECORDS - first_batch) / max(times[-1] - times[0], 1e-6), times[0] - started


def _measure(endpoint: str, work: Path) -> Result:
    kinesis = moto_client("kinesis", endpoint)
    _fill(kinesis)
    bare = max(_bare_rate(kinesis) for _ in range(3))
    through_daemon, first_record_s = _daemon_rate(endpoint, work)
    return Result(
        "P7",
        f"KCL daemon + shard processor (no-op) vs bare GetRecords, {RECORDS:,} records, {SHARDS} shards",
        through_daemon,
        bare,
        "ratio >= 0.8",
        "records/s",
        {"first_record_seconds": round(first_record_s, 1)},
    )
