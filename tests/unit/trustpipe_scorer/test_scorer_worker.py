"""The scorer's hot path on fakes: decode any sensor version, score, frame a ScoredMessage; bad
records rejected with their reason while the rest go on; a record whose enterprise is not its
channel's set aside, never scored; a promoted model picked up."""

from __future__ import annotations

import dataclasses
import io
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import fakeredis
import fastavro
import pytest
import redis

from tests.harness.fakes import FakeKinesis, deliver
from tests.harness.models import artifact
from trustpipe import contracts, counters, metrics, records, tenants
from trustpipe.codec import FramedDecoder, FramedEncoder, InMemorySchemas
from trustpipe.model.artifact import ModelArtifact, ModelNotFoundError
from trustpipe.model.suffixes import SuffixList
from trustpipe.transient import is_transient
from trustpipe_scorer.fresh import FreshCounters
from trustpipe_scorer.model_source import CurrentModel
from trustpipe_scorer.worker import MAX_MESSAGE_BYTES, NoModelError, ScorerWorker, sensor_version_of
from trustpipe_sensors import hostile
from trustpipe_sensors.generator import MessageFactory
from trustpipe_sensors.sensor import to_version
from trustpipe_sensors.world import World
from trustpipe_stream.processor import StreamRecord
from trustpipe_stream.put import Entry, Putter

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
SCORED = contracts.load(contracts.SCORED_MESSAGE)
HOSTILE_ID = 57


class Setup:
    def __init__(self, models: dict[str, ModelArtifact], current: list[str | None]) -> None:
        self.schemas = InMemorySchemas({v: contracts.email_metadata(v) for v in contracts.SENSOR_VERSIONS})
        self.schemas.add(10, SCORED)
        self.put: list[Entry] = []
        self.aside: list[Any] = []
        self.clock = [0.0]
        self.current = current
        self.worker = ScorerWorker(
            decoder=FramedDecoder(self.schemas, contracts.reader_schema(), max_bytes=MAX_MESSAGE_BYTES),
            writer_version=sensor_version_of(self.schemas),
            model=CurrentModel(
                lambda: self.current[0], lambda v: models[v] if v else _missing(), 30, lambda: self.clock[0]
            ),
            encoder=FramedEncoder(10, SCORED),
            put=self._put,
            keep_aside=lambda shard, rejected: self.aside.extend(rejected),
            enterprises=frozenset(World.build(3).enterprises),
            clock=lambda: NOW,
        )

    def _put(self, entries: Iterable[Entry]) -> None:
        self.put.extend(entries)

    def scored(self) -> list[dict[str, Any]]:
        return [FramedDecoder(self.schemas, SCORED).decode(data) for data, _ in self.put]


def model(version: str, **weights: float) -> ModelArtifact:
    return dataclasses.replace(artifact(**weights), version=version)


def _missing() -> ModelArtifact:
    raise ModelNotFoundError("no current model")


def messages(n: int, claim: str | None = None) -> list[tuple[int, bytes, str]]:
    """``n`` messages of every sensor version: (version, framed bytes, message id); each claims
    its own enterprise, or ``claim`` when given."""
    world = World.build(3)
    out = []
    for i in range(n):
        ent = list(world.enterprises.values())[i % 3]
        m = MessageFactory(world, ent, random.Random(i)).make(NOW)
        v = ent.sensor_version
        rec = {**m.record, "enterprise_id": claim or m.record["enterprise_id"]}
        out.append(
            (
                v,
                FramedEncoder(v, contracts.email_metadata(v)).encode(to_version(rec, v)),
                m.record["message_id"],
            )
        )
    return out


def record(data: bytes, n: int, channel: str | None = None) -> StreamRecord:
    """A raw record as the front door stamps it: its channel's enterprise in the partition key
    (the enterprise the record itself claims, unless ``channel`` names another)."""
    if channel is None:
        try:
            decoded = FramedDecoder(
                InMemorySchemas({v: contracts.email_metadata(v) for v in contracts.SENSOR_VERSIONS}),
                contracts.reader_schema(),
            ).decode(data)
            channel = decoded["enterprise_id"]
        except Exception:  # an undecodable record: any served channel will do
            channel = "acme"
    return StreamRecord(
        data, tenants.partition_key(channel, f"m{n}"), f"{1000 + n}", 0, 0, "shardId-000000000001"
    )


def keys(batch: list[tuple[int, bytes, str]]) -> list[str]:
    """The scored records' partition keys for ``batch``: (enterprise, message id)."""
    decoder = FramedDecoder(
        InMemorySchemas({v: contracts.email_metadata(v) for v in contracts.SENSOR_VERSIONS}),
        contracts.reader_schema(),
    )
    return [tenants.partition_key(decoder.decode(data)["enterprise_id"], mid) for _, data, mid in batch]


def test_every_sensor_version_is_scored_into_a_framed_scored_message() -> None:
    # GIVEN records of all three sensor versions
    setup = Setup({"m1": model("m1", spf_fail=2.0)}, ["m1"])
    batch = messages(6)
    # WHEN the scorer processes them
    rejected = setup.worker.process([record(data, n) for n, (_, data, _) in enumerate(batch)])
    # THEN each became one ScoredMessage, keyed and framed, naming its version, model and position
    assert rejected == []
    scored = setup.scored()
    assert [s["message_id"] for s in scored] == [mid for _, _, mid in batch]
    assert [k for _, k in setup.put] == keys(batch)
    assert [s["sensor_schema_version"] for s in scored] == [v for v, _, _ in batch]
    assert {s["model_version"] for s in scored} == {"m1"} and {s["source"] for s in scored} == {"STREAM"}
    assert scored[0]["source_ref"] == "shardId-000000000001:1000"
    assert all(s["verdict"] in ("QUARANTINE", "LABEL", "PASS_THROUGH") for s in scored)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x01\x00\x00\x00\x01abc", "BadMagicByteError"),
        (b"\x00\x00\x00\x00\x63abc", "UnknownSchemaIdError"),
        (b"\x00\x00", "TruncatedRecordError"),
        (None, "TruncatedRecordError"),  # a real record cut short
        (b"\x00\x00\x00\x00\x01" + b"x" * (300 * 1024), "OversizeRecordError"),
        (hostile.framed_null_array(HOSTILE_ID)[1], "UnboundedSchemaError"),
    ],
)
def test_a_bad_record_is_rejected_with_its_reason_and_the_rest_are_scored(
    data: bytes | None, reason: str
) -> None:
    setup = Setup({"m1": model("m1")}, ["m1"])
    # (the hostile record's writer schema is registered: compatible with the v4 reader)
    setup.schemas.add(HOSTILE_ID, hostile.framed_null_array(HOSTILE_ID)[0])
    good = messages(2)
    bad = data if data is not None else good[0][1][:20]
    records = [record(good[0][1], 0), record(bad, 1), record(good[1][1], 2)]
    rejected = setup.worker.process(records)
    assert [r.record.sequence_number for r in rejected] == ["1001"]
    assert rejected[0].reason.startswith(reason + ":")
    assert [k for _, k in setup.put] == keys(good)


def test_a_promoted_model_is_used_from_the_next_check_on() -> None:
    # GIVEN a scorer on model m1
    setup = Setup({"m1": model("m1"), "m2": model("m2")}, ["m1"])
    batch = [record(data, n) for n, (_, data, _) in enumerate(messages(2))]
    setup.worker.process(batch)
    # WHEN m2 is promoted: not seen before the check interval, used after it
    setup.current[0] = "m2"
    setup.clock[0] = 10
    setup.worker.process(batch)
    setup.clock[0] = 31
    setup.worker.process(batch)
    assert [s["model_version"] for s in setup.scored()] == ["m1"] * 4 + ["m2"] * 2


def test_each_verdict_carries_its_models_promotion_number() -> None:
    # GIVEN the current model, promoted as number 7
    setup = Setup({"m1": dataclasses.replace(model("m1"), promotion=7)}, ["m1"])
    # WHEN a batch is scored THEN its verdicts carry the number the store orders verdicts by
    setup.worker.process([record(data, n) for n, (_, data, _) in enumerate(messages(2))])
    assert [(s["model_version"], s["model_promotion"]) for s in setup.scored()] == [("m1", 7)] * 2


def test_no_model_yet_fails_the_batch_instead_of_skipping_it() -> None:
    setup = Setup({}, [None])
    with pytest.raises(NoModelError) as raised:
        setup.worker.process([record(messages(1)[0][1], 0)])
    assert setup.put == []
    # transient: the processor retries the batch, it does not split it and set its records aside
    assert is_transient(raised.value)


def test_the_scored_schema_is_what_the_importers_read() -> None:
    # the scorer's output is a ScoredMessage as the batch job writes it: the importers' contract
    setup = Setup({"m1": model("m1")}, ["m1"])
    setup.worker.process([record(messages(1)[0][1], 0)])
    buf = io.BytesIO(setup.put[0][0][5:])
    decoded = fastavro.schemaless_reader(buf, fastavro.parse_schema(SCORED), None)
    assert isinstance(decoded, dict) and decoded["enterprise_id"]


def test_a_record_claiming_another_enterprise_is_set_aside_and_the_rest_of_its_batch_scored() -> None:
    # GIVEN a batch on acme's channel: two of acme's own records and one claiming globex
    setup = Setup({"m1": model("m1")}, ["m1"])
    acme = [m for m in messages(6) if tenants.enterprise_of_key(keys([m])[0]) == "acme"]
    claiming = messages(1, claim="globex")[0]
    batch = [record(acme[0][1], 0), record(claiming[1], 1, channel="acme"), record(acme[1][1], 2)]
    # WHEN the scorer processes it
    rejected = setup.worker.process(batch)
    # THEN the claiming record is set aside with the mismatch, never scored; acme's are scored
    assert [r.record.sequence_number for r in rejected] == ["1001"]
    assert rejected[0].reason.startswith("EnterpriseMismatchError: record claims enterprise 'globex'")
    assert "'acme'" in rejected[0].reason
    assert [s["message_id"] for s in setup.scored()] == [acme[0][2], acme[1][2]]
    assert {s["enterprise_id"] for s in setup.scored()} == {"acme"}
    assert [k for _, k in setup.put] == [f"acme/{acme[0][2]}", f"acme/{acme[1][2]}"]


@pytest.mark.parametrize("channel", ["umbrella", "", "ACME"])
def test_a_record_on_a_channel_the_deployment_does_not_serve_is_set_aside(channel: str) -> None:
    # GIVEN a record claiming the enterprise of a channel this deployment does not serve
    setup = Setup({"m1": model("m1")}, ["m1"])
    good = messages(1)
    stranger = messages(1, claim=channel or "nobody")[0]
    batch = [record(stranger[1], 0, channel=channel), record(good[0][1], 1)]
    # WHEN it is processed, THEN it is refused as an unknown enterprise and the good one scored
    rejected = setup.worker.process(batch)
    assert [r.record.sequence_number for r in rejected] == ["1000"]
    assert rejected[0].reason.startswith("UnknownEnterpriseError:")
    assert [k for _, k in setup.put] == keys(good)


def test_the_enterprise_of_a_partition_key_is_what_precedes_its_first_slash() -> None:
    # a message id holding slashes does not move the enterprise: the key splits at the first one
    setup = Setup({"m1": model("m1")}, ["m1"])
    acme = next(m for m in messages(6) if keys([m])[0].startswith("acme/"))
    raw = StreamRecord(acme[1], "acme/<a/b@x>", "1", 0, 0, "shardId-000000000001")
    assert setup.worker.process([raw]) == []
    assert setup.scored()[0]["enterprise_id"] == "acme"


def v3(n: int, **changes: Any) -> bytes:
    """Message ``n`` as a v3 sensor frames it, with ``changes`` (legal Avro, whatever they hold)."""
    world = World.build(3)
    ent = next(iter(world.enterprises.values()))
    rec = to_version(MessageFactory(world, ent, random.Random(n)).make(NOW).record, 3)
    return FramedEncoder(3, contracts.email_metadata(3)).encode({**rec, **changes})


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"url_count": -1}, "url_count_not_negative"),
        ({"from_display_name": "Alice\x00Chen"}, "from_display_name_storable"),
        ({"message_id": ""}, "message_id_length"),
        ({"message_id": "m" * (records.MAX_MESSAGE_ID + 1)}, "message_id_length"),
        ({"received_at": datetime(1970, 1, 1, tzinfo=UTC)}, "received_at_window"),
        ({"received_at": NOW + timedelta(days=2)}, "received_at_window"),
        (
            {"attachments": [{"filename": "a", "content_type": "b", "size_bytes": -5}]},
            "attachment_size_bytes_not_negative",
        ),
    ],
    ids=["negative-count", "nul", "empty-id", "long-id", "epoch", "future", "negative-attachment"],
)
def test_a_legal_record_that_breaks_a_rule_is_set_aside_by_name_and_the_rest_of_its_batch_scored(
    changes: dict[str, Any], rule: str
) -> None:
    # GIVEN a v3 batch whose 4th record is legal Avro that breaks one record rule
    setup = Setup({"m1": model("m1")}, ["m1"])
    poison = v3(3, **changes)
    batch = [record(v3(n), n) for n in range(3)] + [record(poison, 3)] + [record(v3(n), n) for n in (4, 5)]
    # WHEN the shard processor hands the batch to the scorer
    checkpointer = deliver(setup.worker, batch)
    # THEN that record alone is set aside, its reason the rule's name and text
    expected = next(r for r in records.RULES if r.name == rule)
    assert [(x.record.sequence_number, x.reason) for x in setup.aside] == [("1003", expected.reason)]
    # and the five others are scored and put, each once (no split was needed to find it)
    assert sorted(s["source_ref"] for s in setup.scored()) == [
        f"shardId-000000000001:{1000 + n}" for n in (0, 1, 2, 4, 5)
    ]
    assert len(setup.put) == 5
    # and the shard checkpoints past the batch
    assert checkpointer.at == ["1005"]


def test_a_message_whose_partition_key_kinesis_refuses_is_set_aside_and_the_rest_put() -> None:
    # GIVEN a scored stream that refuses one message's partition key: PutRecords fails validation
    # for the whole request (a ClientError that is not transient)
    setup = Setup({"m1": model("m1")}, ["m1"])
    kinesis = FakeKinesis(invalid=lambda key: "refused" in key)
    setup.worker.put = Putter(kinesis, "scored", sleep=lambda _s: None).put
    batch = [record(v3(n), n) for n in range(4)]
    refused = record(v3(9, message_id="<refused@x>"), 9)
    # WHEN the processor hands it, between good records, to the scorer
    checkpointer = deliver(setup.worker, [*batch[:2], refused, *batch[2:]])
    # THEN it alone is set aside with Kinesis's answer; the four others are on the scored stream
    assert [x.record.sequence_number for x in setup.aside] == ["1009"]
    assert setup.aside[0].reason.startswith("ClientError: An error occurred (ValidationException)")
    on_stream = [FramedDecoder(setup.schemas, SCORED).decode(r["Data"])["source_ref"] for r in kinesis.stored]
    assert sorted(on_stream) == [f"shardId-000000000001:{1000 + n}" for n in range(4)]
    assert checkpointer.at == ["1003"]


def _decoded(batch: list[tuple[int, bytes, str]]) -> list[dict[str, Any]]:
    schemas = InMemorySchemas({v: contracts.email_metadata(v) for v in contracts.SENSOR_VERSIONS})
    return [FramedDecoder(schemas, contracts.reader_schema()).decode(data) for _, data, _ in batch]


def test_fresh_counters_replace_the_snapshots_reputation_for_the_batch() -> None:
    # GIVEN a model that weighs domain reputation, and counters built through yesterday that
    # call every sender of the batch malicious
    setup = Setup({"m1": model("m1", domain_reputation=6.0, domain_unseen=-1.0)}, ["m1"])
    batch = messages(6)
    r = fakeredis.FakeRedis()
    orgs = {counters.entities(m, SuffixList.bundled())[counters.ORG] for m in _decoded(batch)}
    # (written without the tiles' expiry: this module's clock is a fixed day, fakeredis's the real one)
    through = NOW.date() - timedelta(days=1)
    for o in orgs:
        r.hset(counters.window_key(counters.ORG, o, through), mapping={"n": 50, "bad": 50})
    r.set(counters.BUILT_KEY, f"{through:%Y%m%d}")
    stream = [record(data, n) for n, (_, data, _) in enumerate(batch)]
    setup.worker.process(stream)
    snapshot = [s["score"] for s in setup.scored()]
    # WHEN the scorer reads the counters
    setup.worker.fresh = FreshCounters(r)
    setup.put.clear()
    setup.worker.process(stream)
    # THEN every score rises with its sender's fresh reputation, and the batch was seen once
    assert all(f > s for f, s in zip([s["score"] for s in setup.scored()], snapshot, strict=True))
    assert sum(r.pfcount(k) for k in r.keys("*org*:s:*")) == len(batch)
    assert setup.worker.figures() == [(metrics.COUNTERS_DEGRADED, 0)]


class DownRedis:
    """A client whose every round trip fails as a stopped Redis does."""

    def __init__(self) -> None:
        self.asked = 0

    def pipeline(self, transaction: bool = True) -> Any:
        self.asked += 1
        pipe = fakeredis.FakeRedis().pipeline(transaction=transaction)
        pipe.execute = self._refuse  # type: ignore[method-assign]
        return pipe

    def get(self, key: str) -> None:
        self.asked += 1
        self._refuse()

    def _refuse(self) -> None:
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_a_redis_that_does_not_answer_scores_with_the_snapshot_counted_and_is_left_alone_a_while() -> None:
    # GIVEN a scorer whose counters' Redis is down
    setup = Setup({"m1": model("m1", domain_reputation=6.0)}, ["m1"])
    stream = [record(data, n) for n, (_, data, _) in enumerate(messages(4))]
    setup.worker.process(stream)
    snapshot = setup.scored()
    down, ticks = DownRedis(), [0.0]
    setup.worker.fresh = FreshCounters(down, retry_after=10, clock=lambda: ticks[0])
    setup.put.clear()
    # WHEN two batches come within the retry interval, and one after it
    setup.worker.process(stream)
    ticks[0] = 5
    setup.worker.process(stream[:2])
    # THEN all are scored, as the snapshot scores them, each counted as degraded
    assert [s["score"] for s in setup.scored()] == [s["score"] for s in snapshot] + [
        s["score"] for s in snapshot[:2]
    ]
    assert setup.worker.figures() == [(metrics.COUNTERS_DEGRADED, 6)]
    assert setup.worker.figures() == [(metrics.COUNTERS_DEGRADED, 0)]
    # and Redis was asked once until the interval passed, then again
    assert down.asked == 1
    ticks[0] = 11
    setup.worker.process(stream[:1])
    assert down.asked == 2
