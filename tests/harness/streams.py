"""The near-real-time path seen from outside: what the sensors put, what lies on a stream, what
was set aside (the action queues are drained by the scenarios' one settle, `trustpipe_scenarios.settle`)."""

from __future__ import annotations

import json
from typing import Any

from trustpipe import contracts
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder
from trustpipe.settings import Settings
from trustpipe_scenarios.stream_demo import records
from trustpipe_sensors import stream
from trustpipe_sensors.frontdoor import KinesisProducer, Producer, producer_for
from trustpipe_sensors.world import World
from trustpipe_stream.put import Putter


def producer(aws: AwsClients, stream_name: str) -> Producer:
    """The way onto ``stream_name``: the raw stream's is the front door (each enterprise's batch
    signed with its sensor session, as the sensors send); any other stream (a test's own) is put
    to directly, keyed as the front door stamps, ``<enterprise>/<message id>``."""
    if stream_name == aws.settings.raw_stream_name:
        return producer_for(aws.settings, lambda: aws.client("sts"))
    return KinesisProducer(Putter(aws.client("kinesis"), stream_name))


def post(aws: AwsClients, enterprise_id: str, items: list[tuple[bytes, str]]) -> None:
    """``(data, message id)`` pairs through the front door as ``enterprise_id``'s sensor."""
    producer_for(aws.settings, lambda: aws.client("sts")).put(enterprise_id, items)


def produce(aws: AwsClients, stream_name: str, count: int, seed: int) -> list[str]:
    """The sensors' stream producer sends ``count`` messages of world ``seed`` onto
    ``stream_name`` (see ``producer``); their ids."""
    world = World.build(seed)
    _, labelled = stream.run_stream(
        producer(aws, stream_name),
        stream_name,
        aws.registry().register,
        lambda encoders, run: stream.Sensors(world, list(world.enterprises.values()), encoders, seed, run),
        rate=200,
        count=count,
    )
    return [m.record["message_id"] for ms in labelled.values() for m in ms]


def on_stream(
    aws: AwsClients, stream_name: str, contract: str = contracts.SCORED_MESSAGE
) -> list[dict[str, Any]]:
    """Every record on ``stream_name``, decoded with the registry to ``contract``."""
    decoder = FramedDecoder(aws.registry(), contracts.load(contract))
    return [decoder.decode(r["Data"]) for r in records(aws.client("kinesis"), stream_name)]


def set_aside(aws: AwsClients, settings: Settings, prefix: str) -> list[dict[str, Any]]:
    """The JSON lines of every set-aside object under ``prefix`` of the archive bucket."""
    listing = aws.s3.list_objects_v2(Bucket=settings.archive_bucket, Prefix=prefix)
    lines = []
    for obj in listing.get("Contents", []):
        body = aws.s3.get_object(Bucket=settings.archive_bucket, Key=obj["Key"])["Body"].read()
        lines += [json.loads(line) for line in body.splitlines()]
    return lines
