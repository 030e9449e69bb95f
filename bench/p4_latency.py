"""P4: end-to-end latency of the near-real-time path on the local stack at a stated rate: from the
sensors' PutRecords to the verdict stored in PostgreSQL (and to the action on the enterprise's
queue), through a scorer (a processor per shard), the stream importer and the alerter, each a
KCL consumer group; then P4L, the same run with every stage in its Lambda form (each stage's zip
under ``awslambdaric``, invoked by the emulated Kinesis event source mapping, which polls a shard
once a second as Lambda's does: a figure reported beside P4, with no goal of its own).

Baseline, measured in the same run on the same moto server: the transport's floor, put -> seen by
a bare GetRecords poller pausing 200 ms between calls (the workers' local read interval). The
goal is absolute (p99 <= 2 s); the ratio says how many floors the pipeline adds.

Brings a local stack of its own up and down, or runs on the one it is given (the test suite's):
its workers then resume the session's consumer groups, and the floor's stream is its own.
"""

from __future__ import annotations

import dataclasses
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import NOTHING, Result, Shared
from trustpipe import contracts, layout, s3, tenants
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder, FramedEncoder, InMemorySchemas
from trustpipe.model import artifact as artifacts
from trustpipe.model.artifact import ModelArtifact, Thresholds
from trustpipe.model.scorer import TrustModel
from trustpipe.workers import STREAM_WORKERS
from trustpipe_importer.app import upgrade
from trustpipe_scenarios import stream_demo
from trustpipe_sensors.generator import MessageFactory
from trustpipe_sensors.handmade_model import artifact
from trustpipe_sensors.world import World
from trustpipe_stack.stack import LocalStack

ROOT = Path(__file__).parents[1]
POLL_SECONDS = 0.2
NEEDS: tuple[str, ...] = ("stack",)


@dataclass(frozen=True)
class Size:
    rate: float
    """Messages a second."""
    seconds: float
    floor_records: int
    """Put on the floor's stream at ``rate``."""
    threshold_sample: int
    """Simulated messages scored to place the model's thresholds."""
    on_lambda: bool = True
    """Measure P4L too: the path again with every stage a Lambda function."""


FULL = Size(rate=50.0, seconds=40.0, floor_records=200, threshold_sample=3000)
"""50 messages a second: what the local stack's moto server sustains through three streams with
room to spare (its PutRecords slows as a stream grows)."""
SMOKE = Size(rate=10.0, seconds=2.0, floor_records=20, threshold_sample=300, on_lambda=False)
"""Without P4L: once, on a suite worker's loaded stack, its second pass (every stage on Lambda)
outlasted the test's 10 minutes; the Lambda path's own end-to-end test covers its code."""


def run(size: Size = FULL, shared: Shared = NOTHING) -> list[Result]:
    if shared.stack is not None:
        return _measure(shared.stack.state_dir, AwsClients(shared.stack.settings()), size)
    with tempfile.TemporaryDirectory(prefix="trustpipe-p4-") as tmp:
        stack = LocalStack(ROOT, Path(tmp))
        try:
            return _measure(stack.state_dir, AwsClients(stack.up(say=lambda _m: None)), size)
        finally:
            stack.down(say=lambda _m: None)


def _measure(state_dir: Path, aws: AwsClients, size: Size) -> list[Result]:
    upgrade(aws.settings)
    with _current(aws, realistic(artifact(), size.threshold_sample)):
        floor = _transport_floor(aws, size)
        kcl = stream_demo.run(aws, state_dir, seed=42, seconds=size.seconds, rate=size.rate, say=print)
        results = [_result("P4", "each a KCL group", "p99 <= 2 s", kcl, floor, size)]
        if size.on_lambda:
            lam = stream_demo.run(
                aws,
                state_dir,
                seed=43,
                seconds=size.seconds,
                rate=size.rate,
                say=print,
                on_lambda=STREAM_WORKERS,
            )
            results.append(_result("P4L", "each a Lambda function", "reported beside P4", lam, floor, size))
    return results


def _result(
    id_: str, form: str, goal: str, section: dict[str, Any], floor: dict[str, float], size: Size
) -> Result:
    stored, acted = section["latency_put_to_stored_s"], section["latency_put_to_action_s"]
    return Result(
        id_,
        f"put -> verdict stored, p99, at {size.rate:.0f} messages/s (scorer, importer, alerter: {form})",
        stored["p99"],
        floor["p99"],
        goal,
        "s",
        {
            "rate_per_second": size.rate,
            "messages": section["produced"],
            "stored_p50": stored["p50"],
            "stored_p95": stored["p95"],
            "action_p50": acted["p50"],
            "action_p99": acted["p99"],
            "floor_p50": floor["p50"],
            "reconciled": section["reconciled"],
            "verdicts": section["verdicts"],
        },
    )


@contextmanager
def _current(aws: AwsClients, model: ModelArtifact) -> Iterator[None]:
    """``model`` the current one for the run, and what was current before (or nothing) current
    again afterwards: a shared stack's other users find it as they left it."""
    bucket = aws.settings.archive_bucket
    try:
        before: bytes | None = s3.get(aws.s3, bucket, layout.CURRENT_MODEL_KEY)
    except aws.s3.exceptions.NoSuchKey:
        before = None
    artifacts.save(aws.s3, bucket, model, make_current=True)
    try:
        yield
    finally:
        if before is None:
            aws.s3.delete_object(Bucket=bucket, Key=layout.CURRENT_MODEL_KEY)
        else:
            s3.put(aws.s3, bucket, layout.CURRENT_MODEL_KEY, before)


def realistic(model: ModelArtifact, sample: int = 3000) -> ModelArtifact:
    """The fixture model with thresholds at the 93rd and 97th percentile of its scores on a sample
    of the simulator's traffic, so that a minority of messages is acted on, as with the model the
    demo trains (the fixture's own thresholds act on most, and moto's FIFO queues take about 100
    actions a second: the alerter's backlog, not the pipeline, would be measured)."""
    world = World.build(42)
    enterprises = list(world.enterprises.values())
    engine = TrustModel(model)
    factories = {
        e.enterprise_id: MessageFactory(world, e, random.Random(e.enterprise_id)) for e in enterprises
    }
    now = datetime.now(UTC)
    scores = sorted(
        engine.score(as_v4(factories[e.enterprise_id].make(now).record)).score
        for e in (enterprises[n % len(enterprises)] for n in range(sample))
    )
    label, quarantine = scores[int(0.93 * sample)], scores[int(0.97 * sample)]
    return dataclasses.replace(model, default_thresholds=Thresholds(quarantine, label), thresholds={})


def as_v4(record: dict[str, Any]) -> dict[str, Any]:
    """A v3-shaped simulator record read through the v4 reader, as the scorer sees it."""
    schema = contracts.email_metadata(3)
    return FramedDecoder(InMemorySchemas({3: schema}), contracts.reader_schema()).decode(
        FramedEncoder(3, schema).encode(record)
    )


def _transport_floor(aws: AwsClients, size: Size) -> dict[str, float]:
    """Put -> GetRecords latency of a bare poller on a one-shard stream, records put at the
    size's rate."""
    kinesis, stream, count = aws.client("kinesis"), f"p4-floor-{uuid.uuid4().hex[:8]}", size.floor_records
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream)
    try:
        return _poll_floor(kinesis, stream, count, size.rate)
    finally:
        kinesis.delete_stream(StreamName=stream)


def _poll_floor(kinesis: Any, stream: str, count: int, rate: float) -> dict[str, float]:
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    put_at: dict[str, float] = {}
    seen: list[float] = []

    def poll() -> None:
        it: Any = iterator
        while len(seen) < count:
            page = kinesis.get_records(ShardIterator=it, Limit=10_000)
            now = time.monotonic()
            seen.extend(now - put_at[r["PartitionKey"]] for r in page["Records"])
            it = page["NextShardIterator"]
            time.sleep(POLL_SECONDS)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    for n in range(count):
        key = tenants.partition_key("bench", f"k{n}")  # the front door's key format
        put_at[key] = time.monotonic()
        kinesis.put_record(StreamName=stream, Data=b"x" * 600, PartitionKey=key)
        time.sleep(1 / rate)
    poller.join(timeout=60)
    ordered = sorted(seen)
    return {"p50": statistics.median(ordered), "p99": ordered[int(0.99 * (len(ordered) - 1))]}
