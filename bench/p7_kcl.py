"""P7: records/s through the KCL's MultiLangDaemon and trustpipe's shard processor (a no-op
worker) against bare GetRecords on the same stream of the same moto server, and the time from
the daemon's start to its first record.

Both read up to 10,000 records a call without pausing between calls (on AWS both would be held
to 5 calls a second per shard), and both read every shard at once: the daemon a processor per
shard, the baseline a reader per shard. The baseline is the best of a thread per shard and a
process per shard over its rounds (on this shared machine neither is reliably ahead), so that it
is the best bare GetRecords does here. The daemon's rate counts from its first batch to its last,
the baseline's from the moment every reader is ready: neither's start-up is in its rate, and the
daemon's is reported apart.
"""

from __future__ import annotations

import multiprocessing
import queue
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import NOTHING, Result, Shared, moto_client
from trustpipe import tenants
from trustpipe.kinesis import KINESIS_MAX_RECORDS_PER_PUT
from trustpipe_stack.servers import MotoServer
from trustpipe_stream.daemon import KINESIS_MAX_RECORDS_PER_GET, Consumer, Daemon

SHARDS = 2
PAYLOAD = b"x" * 600
"""About the size of a framed email-metadata record."""
NEEDS: tuple[str, ...] = ("stack",)


@dataclass(frozen=True)
class Size:
    records: int
    """Put on the stream, in batches of 500."""
    bare_rounds: int
    """The baseline is the best of this many reads of the whole stream."""


FULL = Size(records=100_000, bare_rounds=3)
SMOKE = Size(records=2_000, bare_rounds=1)


def run(size: Size = FULL, shared: Shared = NOTHING) -> list[Result]:
    """On the shared stack's moto server when given one (a stream and consumer group of this
    run's own), else on a moto server of its own."""
    stream = f"p7-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="trustpipe-p7-") as tmp:
        work = Path(tmp)
        if shared.stack is not None:
            return [_measure(shared.stack.moto.endpoint, work, stream, size)]
        moto = MotoServer(work / "moto")
        moto.start()
        try:
            return [_measure(moto.endpoint, work, stream, size)]
        finally:
            moto.stop()


def _fill(kinesis: Any, stream: str, records: int) -> None:
    kinesis.create_stream(StreamName=stream, ShardCount=SHARDS)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream)
    for start in range(0, records, KINESIS_MAX_RECORDS_PER_PUT):
        batch = [
            {"Data": PAYLOAD, "PartitionKey": tenants.partition_key("bench", f"k{n}")}
            for n in range(start, min(start + KINESIS_MAX_RECORDS_PER_PUT, records))
        ]
        assert kinesis.put_records(StreamName=stream, Records=batch)["FailedRecordCount"] == 0


def _bare_rate(endpoint: str, stream: str, records: int, processes: bool) -> float:
    """GetRecords over every shard from the start, a reader per shard (a process, or a thread),
    all starting together, as many records a call as the daemon asks for."""
    shards = [s["ShardId"] for s in moto_client("kinesis", endpoint).list_shards(StreamName=stream)["Shards"]]
    if processes:
        context = multiprocessing.get_context("spawn")  # not fork: the caller may have threads (Spark)
        ready, results, reader = context.Barrier(len(shards)), context.Queue(), context.Process
    else:
        ready, results, reader = threading.Barrier(len(shards)), queue.Queue(), threading.Thread
    readers = [
        reader(target=_read_shard, args=(endpoint, stream, shard, ready, results), daemon=True)
        for shard in shards
    ]
    for r in readers:
        r.start()
    try:
        read = [results.get(timeout=300) for _ in readers]
        for outcome in read:
            if isinstance(outcome, Exception):
                raise outcome
    finally:
        for r in readers:
            r.join(timeout=10)
            if processes and r.is_alive():
                r.kill()
    count = sum(n for n, _, _ in read)
    assert count == records, count
    return count / (max(end for _, _, end in read) - min(began for _, began, _ in read))


def _read_shard(endpoint: str, stream: str, shard: str, ready: Any, results: Any) -> None:
    """One shard read to its end: (records, wall-clock start, wall-clock end) on ``results``, or
    what it raised."""
    try:
        kinesis = moto_client("kinesis", endpoint)
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        ready.wait(timeout=120)
        began, count = time.time(), 0
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=KINESIS_MAX_RECORDS_PER_GET)
            count += len(response["Records"])
            if not response["Records"] and response.get("MillisBehindLatest", 0) == 0:
                break
            iterator = response.get("NextShardIterator")
        results.put((count, began, time.time()))
    except Exception as err:
        results.put(err)
        raise


def _daemon_rate(endpoint: str, work: Path, stream: str, records: int) -> tuple[float, float]:
    out = work / "batches.txt"
    processor = [sys.executable, "-m", "bench.kcl_noop_worker", str(out)]
    # The bare loop does not pause between calls either (moto never throttles): what is measured
    # is the daemon's and the multilang protocol's own cost.
    consumer = Consumer(
        f"{stream}-noop", stream, processor, f"{stream}-0", "us-east-1", endpoint, idle_between_reads_ms=1
    )
    daemon = Daemon(consumer, work / "kcl")
    started = time.time()
    daemon.start()
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            batches = [line.split() for line in out.read_text().splitlines()] if out.exists() else []
            if sum(int(n) for _, n in batches) >= records:
                break
            time.sleep(0.5)
        else:
            raise TimeoutError("the daemon did not deliver every record within 300 s")
    finally:
        daemon.stop(timeout=60)
    times = [float(t) for t, _ in batches]
    first_batch = int(batches[0][1])
    return (records - first_batch) / max(times[-1] - times[0], 1e-6), times[0] - started


def _measure(endpoint: str, work: Path, stream: str, size: Size) -> Result:
    kinesis = moto_client("kinesis", endpoint)
    _fill(kinesis, stream, size.records)
    try:
        bare = dict.fromkeys(("threads", "processes"), 0.0)
        for _ in range(size.bare_rounds):
            for how in bare:
                bare[how] = max(bare[how], _bare_rate(endpoint, stream, size.records, how == "processes"))
        through_daemon, first_record_s = _daemon_rate(endpoint, work, stream, size.records)
    finally:
        kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
    return Result(
        "P7",
        f"KCL daemon + shard processor (no-op) vs bare GetRecords (a reader per shard),"
        f" {size.records:,} records, {SHARDS} shards",
        through_daemon,
        max(bare.values()),
        "ratio >= 0.8",
        "records/s",
        {
            "first_record_seconds": round(first_record_s, 1),
            **{f"bare_{how}_records_per_s": round(rate) for how, rate in bare.items()},
        },
    )
