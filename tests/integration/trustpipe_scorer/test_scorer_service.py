"""Two `trustpipe scorer run` services on the local stack's 2-shard raw stream: every message the
sensors stream comes out scored on the scored stream, poison records are set aside with their
reason while the rest go on, a model promoted mid-stream is picked up, and SIGTERM stops both
cleanly."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cli import CLI
from tests.unit.trustpipe.test_features import artifact
from trustpipe import contracts
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder
from trustpipe.model import artifact as artifacts
from trustpipe.settings import Settings
from trustpipe_local.stack import LocalStack
from trustpipe_sensors import stream
from trustpipe_sensors.world import World


def wait_for(what: str, check: Any, timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(2)
    return result


def produce(aws: AwsClients, settings: Settings, count: int) -> list[str]:
    world = World.build(5)
    _, labelled = stream.run_stream(
        aws.client("kinesis"),
        settings.raw_stream_name,
        aws.registry().register,
        lambda encoders, run: stream.Sensors(world, list(world.enterprises.values()), encoders, 5, run),
        rate=200,
        count=count,
    )
    return [m.record["message_id"] for ms in labelled.values() for m in ms]


def scored(aws: AwsClients, settings: Settings) -> dict[str, dict[str, Any]]:
    """What is on the scored stream, decoded, by message id (the last one of each)."""
    kinesis = aws.client("kinesis")
    decoder = FramedDecoder(aws.registry(), contracts.load(contracts.SCORED_MESSAGE))
    out = {}
    for shard in kinesis.list_shards(StreamName=settings.scored_stream_name)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName=settings.scored_stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for r in kinesis.get_records(ShardIterator=it, Limit=10_000)["Records"]:
            message = decoder.decode(r["Data"])
            out[message["message_id"]] = message
    return out


def set_aside(aws: AwsClients, settings: Settings) -> list[dict[str, Any]]:
    listing = aws.s3.list_objects_v2(Bucket=settings.archive_bucket, Prefix="set_aside/stream/scorer/")
    lines = []
    for obj in listing.get("Contents", []):
        body = aws.s3.get_object(Bucket=settings.archive_bucket, Key=obj["Key"])["Body"].read()
        lines += [json.loads(line) for line in body.splitlines()]
    return lines


def promote(aws: AwsClients, settings: Settings, version: str) -> None:
    model = dataclasses.replace(artifact(spf_fail=2.0, lookalike_domain=3.0), version=version)
    artifacts.save(aws.s3, settings.archive_bucket, model, make_current=True)


@pytest.fixture(scope="module")
def scorers(
    local_stack: LocalStack, aws: AwsClients, settings: Settings
) -> Iterator[list[subprocess.Popen[str]]]:
    promote(aws, settings, "stream-m1")
    procs = [
        subprocess.Popen(
            [*CLI, "scorer", "run", "--slot", str(slot), "--state-dir", str(local_stack.state_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for slot in (1, 2)
    ]
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def test_every_streamed_message_is_scored_and_poison_is_set_aside(
    scorers: list[Any], aws: AwsClients, settings: Settings
) -> None:
    # GIVEN the sensors stream 200 messages with four kinds of poison among them
    ids = produce(aws, settings, 100)
    poison = {
        "bad-magic": b"\x07\x00\x00\x00\x01abc",
        "unknown-id": b"\x00\x00\x0f\x42\x3fabc",
        "truncated": b"\x00\x00",
        "oversize": b"\x00\x00\x00\x00\x01" + b"x" * (300 * 1024),
    }
    kinesis = aws.client("kinesis")
    for key, data in poison.items():
        kinesis.put_record(StreamName=settings.raw_stream_name, Data=data, PartitionKey=key)
    ids += produce(aws, settings, 100)
    # WHEN the two scorers consume the raw stream
    out = wait_for("every message scored", lambda: (s := scored(aws, settings)) and set(ids) <= set(s) and s)
    # THEN each was scored by the current model, with its verdict
    assert {out[i]["model_version"] for i in ids} == {"stream-m1"}
    assert {out[i]["source"] for i in ids} == {"STREAM"}
    # and each poison record was set aside with its reason
    aside = wait_for(
        "poison set aside",
        lambda: (
            (a := set_aside(aws, settings)) and len({x["partition_key"] for x in a} & set(poison)) == 4 and a
        ),
    )
    reasons = {x["partition_key"]: x["reason"].split(":")[0] for x in aside if x["partition_key"] in poison}
    assert reasons == {
        "bad-magic": "BadMagicByteError",
        "unknown-id": "UnknownSchemaIdError",
        "truncated": "TruncatedRecordError",
        "oversize": "OversizeRecordError",
    }


def test_a_model_promoted_mid_stream_is_picked_up(
    scorers: list[Any], aws: AwsClients, settings: Settings
) -> None:
    # GIVEN the scorers are running on stream-m1; WHEN stream-m2 is promoted and traffic goes on
    promote(aws, settings, "stream-m2")

    def on_m2() -> bool:
        ids = produce(aws, settings, 20)
        time.sleep(5)
        out = scored(aws, settings)
        return any(out.get(i, {}).get("model_version") == "stream-m2" for i in ids)

    # THEN within about a minute (the scorers read the pointer every 30 s) new verdicts use it
    wait_for("stream-m2 in use", on_m2, timeout=120)


def test_sigterm_stops_the_scorers_cleanly(scorers: list[Any]) -> None:
    for p in scorers:
        p.send_signal(signal.SIGTERM)
    codes = [p.wait(timeout=90) for p in scorers]
    assert codes == [0, 0], [p.stdout.read() for p in scorers]
