"""A consumer group of two KCL daemons on a 2-shard stream of the local stack (moto behind
hypercorn): shards shared, a SIGKILLed daemon's shards taken over with nothing lost, bad records
set aside while the shard moves on, and SIGTERM's final checkpoint. One group for the module: the
daemons take about 30 s to their first record."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe_stream.daemon import Consumer, Daemon

STREAM = "kcl-test"
APP = f"{STREAM}-echo"


def seen(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in sorted(out.glob("w*.jsonl")) for line in f.read_text().splitlines()]


def wait_for(what: str, check: Any, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def put(aws: AwsClients, payloads: list[str]) -> None:
    kinesis = aws.client("kinesis")
    response = kinesis.put_records(
        StreamName=STREAM, Records=[{"Data": p.encode(), "PartitionKey": p} for p in payloads]
    )
    assert response["FailedRecordCount"] == 0


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


def test_two_daemons_share_the_shards_and_read_back_every_record(group: Any, aws: AwsClients) -> None:
    out, _ = group
    # GIVEN 200 records, two of them poison, on a 2-shard stream
    payloads = [f"m{n:04d}" if n not in (17, 123) else f"poison-{n}" for n in range(200)]
    put(aws, payloads)
    # WHEN the group reads them
    wait_for("every record", lambda: {r["data"] for r in seen(out)} >= set(payloads))
    # THEN each record was read, and the two workers share the shards
    wait_for(
        "a shard each", lambda: {lease.get("leaseOwner") for lease in leases(aws).values()} == {"w1", "w2"}
    )
    # and the poison records went to the error path with their reason, the rest went on
    wait_for("the set-aside file", lambda: (out / "set-aside.jsonl").exists())
    aside = [json.loads(line) for line in (out / "set-aside.jsonl").read_text().splitlines()]
    assert sorted(a["data"] for a in aside) == ["poison-123", "poison-17"]
    assert {a["reason"] for a in aside} == {"PoisonRecord: starts with poison"}


def test_a_killed_daemons_shards_move_to_the_other_and_nothing_is_lost(group: Any, aws: AwsClients) -> None:
    out, daemons = group
    # GIVEN the group has checkpointed what it read
    wait_for(
        "checkpoints", lambda: all(lease.get("checkpoint", "").isdigit() for lease in leases(aws).values())
    )
    # WHEN w1 dies without warning and more records arrive
    daemons["w1"].kill()
    more = [f"after-kill-{n:03d}" for n in range(100)]
    put(aws, more)
    # THEN w2 takes every shard over and reads every record (those after w1's last checkpoint again)
    wait_for("every record after the kill", lambda: {r["data"] for r in seen(out)} >= set(more), timeout=240)
    wait_for(
        "w2 owning both shards", lambda: {lease["leaseOwner"] for lease in leases(aws).values()} == {"w2"}
    )
    by_w2 = {r["data"] for r in seen(out) if r["worker"] == "w2"}
    assert set(more) <= by_w2


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
