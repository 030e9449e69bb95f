"""A consumer group of two KCL daemons on a 2-shard stream of the local stack (moto behind
hypercorn): the sensors' stream producer's records read back exactly by id, shards shared, a
SIGKILLed daemon's shards taken over with nothing lost, bad records set aside while the shard moves
on, and SIGTERM's final checkpoint. One group for the module: the daemons take about 30 s to their
first record."""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.harness.streams import produce
from tests.harness.waits import wait_for
from trustpipe import contracts
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder
from trustpipe.settings import Settings
from trustpipe_emulation import aws_metrics
from trustpipe_stream.daemon import Consumer, Daemon

STREAM = "kcl-test"
APP = f"{STREAM}-echo"


def seen(out: Path) -> list[dict[str, Any]]:
    """What the workers processed, data decoded."""
    rows = whole_lines(sorted(out.glob("w*.jsonl")))
    return [{**r, "data": base64.b64decode(r["data"])} for r in rows]


def whole_lines(paths: list[Path]) -> list[dict[str, Any]]:
    """The JSON lines written so far; a worker may be mid-write, so a last line without its
    newline is left for the next look."""
    lines = [line for path in paths for line in path.read_text().splitlines(keepends=True)]
    return [json.loads(line) for line in lines if line.endswith("\n")]


def put(aws: AwsClients, payloads: list[bytes]) -> None:
    kinesis = aws.client("kinesis")
    records = [{"Data": p, "PartitionKey": p.decode()} for p in payloads]
    assert kinesis.put_records(StreamName=STREAM, Records=records)["FailedRecordCount"] == 0


def leases(aws: AwsClients) -> dict[str, dict[str, Any]]:
    items = aws.client("dynamodb").scan(TableName=APP)["Items"]
    return {i["leaseKey"]["S"]: {k: next(iter(v.values())) for k, v in i.items()} for i in items}


@pytest.fixture(scope="module")
def group(settings: Settings, aws: AwsClients, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    aws.client("kinesis").create_stream(StreamName=STREAM, ShardCount=2)
    aws.client("kinesis").get_waiter("stream_exists").wait(StreamName=STREAM)
    out = tmp_path_factory.mktemp("kcl-out")
    state = tmp_path_factory.mktemp("kcl-state")
    daemons = {}
    for worker in ("w1", "w2"):
        processor = [sys.executable, "-m", "tests.integration.trustpipe_stream.echo_worker", str(out), worker]
        c = Consumer(
            APP, STREAM, processor, worker, settings.region, settings.aws_endpoint, shutdown_grace_ms=20_000
        )
        daemons[worker] = Daemon(c, state)
        daemons[worker].start()
    try:
        yield out, daemons
    finally:
        for d in daemons.values():
            d.stop(timeout=30)


def test_two_daemons_read_back_exactly_what_the_sensors_streamed_sharing_the_shards(
    group: Any, aws: AwsClients
) -> None:
    out, _ = group
    # GIVEN the sensors stream 300 messages, and two poison records arrive among them
    ids = produce(aws, STREAM, seed=11, count=150)
    put(aws, [b"poison-17", b"poison-123"])
    ids += produce(aws, STREAM, seed=11, count=150)
    # WHEN the group reads them
    wait_for("every record", lambda: len({r["data"] for r in seen(out)}) >= 302)
    # THEN every message was read back by its id, none missing, none extra
    decoder = FramedDecoder(aws.registry(), contracts.reader_schema())
    read = [decoder.decode(r["data"])["message_id"] for r in seen(out) if not r["data"].startswith(b"poison")]
    assert sorted(set(read)) == sorted(ids) and len(ids) == 300
    # and the two workers share the shards
    wait_for(
        "a shard each", lambda: {lease.get("leaseOwner") for lease in leases(aws).values()} == {"w1", "w2"}
    )
    # and the poison records went to the error path with their reason, the rest went on
    aside_file = out / "set-aside.jsonl"
    wait_for("both set aside", lambda: aside_file.exists() and len(whole_lines([aside_file])) >= 2)
    aside = whole_lines([aside_file])
    assert sorted(base64.b64decode(a["data"]) for a in aside) == [b"poison-123", b"poison-17"]
    assert {a["reason"] for a in aside} == {"PoisonRecord: starts with poison"}


def test_a_killed_daemons_shards_move_to_the_other_and_nothing_is_lost(group: Any, aws: AwsClients) -> None:
    out, daemons = group
    # GIVEN the group has checkpointed what it read
    wait_for(
        "checkpoints", lambda: all(lease.get("checkpoint", "").isdigit() for lease in leases(aws).values())
    )
    # WHEN w1 dies without warning and more records arrive
    daemons["w1"].kill()
    more = [f"after-kill-{n:03d}".encode() for n in range(100)]
    put(aws, more)
    # THEN w2 takes every shard over and reads every record (those after w1's last checkpoint again)
    wait_for("every record after the kill", lambda: {r["data"] for r in seen(out)} >= set(more), timeout=240)
    wait_for(
        "w2 owning both shards", lambda: {lease["leaseOwner"] for lease in leases(aws).values()} == {"w2"}
    )
    by_w2 = {r["data"] for r in seen(out) if r["worker"] == "w2"}
    assert set(more) <= by_w2
    # and the iterator age Kinesis publishes (the moto server publishes it as Kinesis does), which
    # the streams' iterator-age alarms read, shows the takeover: w1's shard was read again only
    # once its lease had expired (6 s locally), its new records seconds old by then
    wait_for("the takeover's iterator age", lambda: max(iterator_ages(aws), default=0) >= 5_000, timeout=30)


def iterator_ages(aws: AwsClients) -> list[float]:
    now = datetime.now(UTC)
    points = aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Kinesis",
        MetricName=aws_metrics.ITERATOR_AGE,
        Dimensions=[{"Name": "StreamName", "Value": STREAM}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return [p["Maximum"] for p in points]


def test_sigterm_checkpoints_everything_read_and_exits_within_the_grace(group: Any, aws: AwsClients) -> None:
    out, daemons = group
    # GIVEN w2 has read every record of both shards (the tests before)
    assert seen(out)
    # WHEN it is asked to stop
    began = time.monotonic()
    code = daemons["w2"].stop(timeout=60)
    # THEN it left within the grace, and the checkpoints stand at the end of what was read
    assert time.monotonic() - began < 40, code
    checkpoints = {k: lease.get("checkpoint") for k, lease in leases(aws).items()}
    shards = aws.client("kinesis").list_shards(StreamName=STREAM)["Shards"]
    ends = {}
    for shard in shards:
        iterator = aws.client("kinesis").get_shard_iterator(
            StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = aws.client("kinesis").get_records(ShardIterator=iterator, Limit=10_000)["Records"]
        ends[shard["ShardId"]] = records[-1]["SequenceNumber"] if records else None
    assert checkpoints == ends
