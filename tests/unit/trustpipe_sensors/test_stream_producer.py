"""The stream producer's limits and retries, on a fake Kinesis keyed as the front door stamps
(the front door's own client is in test_frontdoor_client; the real path in the integration tests)."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.harness.fakes import FakeKinesis
from trustpipe import contracts, tenants
from trustpipe.codec import FramedDecoder, InMemorySchemas
from trustpipe_sensors import stream
from trustpipe_sensors.frontdoor import KinesisProducer
from trustpipe_sensors.world import World
from trustpipe_stream.put import Putter


def straight_to(kinesis: FakeKinesis) -> KinesisProducer:
    return KinesisProducer(Putter(kinesis, "raw", sleep=lambda _s: None))


def produce(
    count: int | None, duration: float | None, rate: float
) -> tuple[FakeKinesis, Any, Any, list[float]]:
    kinesis = FakeKinesis()
    schemas = InMemorySchemas()
    ids = itertools.count(1)

    def register(subject: str, schema: Any) -> int:
        schema_id = next(ids)
        schemas.add(schema_id, schema)
        return schema_id

    world = World.build(7)
    ticks = itertools.count()
    sleeps: list[float] = []
    run, labelled = stream.run_stream(
        straight_to(kinesis),
        "raw",
        register,
        lambda encoders, run: stream.Sensors(world, list(world.enterprises.values()), encoders, 7, run),
        rate=rate,
        count=count,
        duration=duration,
        clock=lambda: float(next(ticks)) * 0.5,  # each clock read: half a second later
        sleep=sleeps.append,
        now=lambda: datetime(2026, 12, 1, 12, tzinfo=UTC),
    )
    return kinesis, run, (labelled, schemas), sleeps


def test_a_bounded_count_puts_exactly_that_many_framed_records_of_every_sensor_version() -> None:
    # WHEN the sensors stream 250 messages at 100 a second
    kinesis, run, (labelled, schemas), _ = produce(count=250, duration=None, rate=100)
    # THEN exactly 250 records were put, in ticks of 100 (one put per enterprise a tick), each
    # keyed by its enterprise and message id
    assert len(kinesis.stored) == 250 == run.total
    assert len(kinesis.calls) <= 3 * 3
    decoder = FramedDecoder(schemas, contracts.reader_schema())
    decoded = [decoder.decode(r["Data"]) for r in kinesis.stored]
    keys = [tenants.partition_key(d["enterprise_id"], d["message_id"]) for d in decoded]
    assert keys == [r["PartitionKey"] for r in kinesis.stored]
    # and every enterprise's sensor framed with its own schema version's id
    assert {decoder.schema_id(r["Data"]) for r in kinesis.stored} == {1, 2, 3}
    # and the counts and ground truth match what was put
    assert {k: len(v) for k, v in labelled.items()} == dict(run.produced)
    assert sum(run.malicious.values()) == sum(m.is_malicious for v in labelled.values() for m in v)


def test_a_duration_bounds_the_run_by_the_clock() -> None:
    # GIVEN a clock that moves half a second per read
    kinesis, run, _, sleeps = produce(count=None, duration=3, rate=10)
    # THEN the run stopped once three seconds had passed, a tick a second
    assert 0 < run.total <= 40 and len(kinesis.stored) == run.total and 1 <= len(sleeps) <= 4


def test_a_run_without_a_bound_or_rate_is_refused() -> None:
    with pytest.raises(stream.StreamOptionsError):
        produce(count=None, duration=None, rate=10)
    with pytest.raises(stream.StreamOptionsError):
        produce(count=5, duration=None, rate=0)


def test_record_run_writes_labels_and_a_manifest_that_agree() -> None:
    import json

    from trustpipe.codec import ContainerReader

    _, run, (labelled, _), _ = produce(count=60, duration=None, rate=100)
    written: dict[str, bytes] = {}
    stream.record_run(lambda b, k, body: written.__setitem__(k, body), "archive", run, labelled)
    manifest = json.loads(written[f"stream_runs/run={run.run_id}/manifest.json"])
    assert sum(manifest["produced"].values()) == 60
    for ent, n in manifest["produced"].items():
        labels = list(ContainerReader(io.BytesIO(written[f"stream_runs/run={run.run_id}/{ent}-labels.avro"])))
        assert len(labels) == n and {x["enterprise_id"] for x in labels} == {ent}


def test_two_runs_never_share_a_message_id_and_a_run_id_reproduces_a_run() -> None:
    world = World.build(7)

    def ids(run_id: str | None) -> list[str]:
        kinesis = FakeKinesis()
        stream.run_stream(
            straight_to(kinesis),
            "raw",
            lambda subject, schema: 1,
            lambda encoders, run: stream.Sensors(world, list(world.enterprises.values()), encoders, 7, run),
            rate=50,
            count=50,
            run_id=run_id,
            sleep=lambda _s: None,
        )
        return [r["PartitionKey"] for r in kinesis.stored]

    assert not set(ids(None)) & set(ids(None))
    assert ids("fixed") == ids("fixed")
