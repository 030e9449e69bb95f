"""The near-real-time path on the local stack: sensors -> raw stream -> 2 scorers -> scored stream
-> stream importer -> PostgreSQL -> imported stream -> alerter -> action queues and alert topics,
every worker a `trustpipe ... run` service with its KCL daemon (started once for the module: the
daemons take about 30 s to their first record).

Poison records reach the scorer's error path with their reason while the rest go on; legal
records that break a record rule (url_count = -1, a NUL in a string) are set aside by the scorer
with the rule's name while the good records of their shard are stored; a scorer and
the alerter are SIGKILLed mid-stream (with their daemons, as a host dies) and restarted as systemd
would: every produced message is stored, each QUARANTINE or LABEL verdict gets exactly one action,
PASS_THROUGH none; one Message-ID at two enterprises is two rows and one action on each one's own
queue; a model promoted mid-stream is picked up; SIGTERM stops every worker."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.harness.cli import run_cli
from tests.harness.factories import email_v2, email_v3
from tests.harness.models import mixed
from tests.harness.streams import on_stream, post, produce, set_aside
from tests.harness.waits import wait_for
from trustpipe import contracts, tenants
from trustpipe import records as record_rules
from trustpipe.aws import AwsClients
from trustpipe.codec import CodecError, FramedDecoder, FramedEncoder
from trustpipe.model import artifact as artifacts
from trustpipe.settings import Settings
from trustpipe_emulation.alarms import describe, emf_fetch, evaluate
from trustpipe_importer.app import upgrade
from trustpipe_scenarios.settle import Pair, drain_action_queues, pair_of, settle
from trustpipe_scenarios.stream_demo import records
from trustpipe_stack.launcher import Launcher
from trustpipe_stack.procs import shipped_command
from trustpipe_stack.stack import LocalStack

MODEL = mixed("stream-path-m1")


@pytest.fixture(scope="module")
def services(local_stack: LocalStack, aws: AwsClients, settings: Settings) -> Iterator[Launcher]:
    """The workers as systemd would run them, their logs under the stack's ``workers`` folder."""
    upgrade(settings)
    promote(aws, settings, MODEL.version)
    state_dir = str(local_stack.state_dir)
    workers = Launcher(local_stack.state_dir / "workers")
    for name, *args in (
        ("scorer-1", "scorer", "run", "--slot", "1"),
        ("scorer-2", "scorer", "run", "--slot", "2"),
        ("importer", "importer", "run", "--source", "stream"),
        ("alerter", "alerter", "run"),
    ):
        workers.start(name, shipped_command(*args, "--state-dir", state_dir))
    try:
        yield workers
    finally:
        for name in workers.procs:
            workers.kill(name)


def scored(aws: AwsClients, settings: Settings) -> dict[str, dict[str, Any]]:
    """What is on the scored stream, decoded, by message id (the last one of each)."""
    return {m["message_id"]: m for m in on_stream(aws, settings.scored_stream_name)}


def promote(aws: AwsClients, settings: Settings, version: str) -> None:
    artifacts.save(
        aws.s3, settings.archive_bucket, dataclasses.replace(MODEL, version=version), make_current=True
    )


def as_put(aws: AwsClients, settings: Settings, ids: list[str]) -> list[Pair]:
    """The messages (enterprise, message id) of ``ids`` as the sensors put them on the raw stream."""
    decoder = FramedDecoder(aws.registry(), contracts.email_metadata(contracts.READER_VERSION))
    wanted = set(ids)
    out = []
    for r in records(aws.client("kinesis"), settings.raw_stream_name):
        try:
            message = decoder.decode(r["Data"])
        except CodecError:
            continue  # the poison records the first test put
        if message["message_id"] in wanted:
            out.append(pair_of(message))
    return list(dict.fromkeys(out))


def campaign(enterprise: str, message_id: str) -> dict[str, Any]:
    """A copy of a phishing campaign's message at ``enterprise``: failing SPF and DMARC, a
    mismatched reply-to and an executable attachment (QUARANTINE under this module's model)."""
    return email_v2(
        message_id=message_id,
        enterprise_id=enterprise,
        received_at=datetime.now(UTC),
        spf="FAIL",
        dmarc="FAIL",
        attachments=[
            {"filename": "invoice.exe", "content_type": "application/octet-stream", "size_bytes": 9_000}
        ],
    )


def put_raw(aws: AwsClients, settings: Settings, messages: list[dict[str, Any]]) -> None:
    """``messages`` as a v2 sensor writes them, each posted through the front door by its own
    enterprise's sensor (which stamps the pair as the partition key)."""
    schema = contracts.email_metadata(2)
    encoder = FramedEncoder(aws.registry().register(contracts.EMAIL_METADATA_SUBJECT, schema), schema)
    for m in messages:
        post(aws, m["enterprise_id"], [(encoder.encode(m), m["message_id"])])


def stored_pairs(settings: Settings, message_id: str) -> dict[Pair, str]:
    with psycopg.connect(settings.database_url or "") as conn:
        rows = conn.execute(
            "SELECT enterprise_id, message_id, verdict FROM scored_messages WHERE message_id = %s",
            (message_id,),
        ).fetchall()
    return {(e, m): v for e, m, v in rows}


def claimed(aws: AwsClients, settings: Settings, enterprise: str, message_id: str) -> str | None:
    """The state of the message's claim in the actions table (None: never claimed)."""
    item = (
        aws.client("dynamodb")
        .get_item(
            TableName=settings.actions_table_name or "",
            Key={"action_key": {"S": tenants.message_key(enterprise, message_id)}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return item["state"]["S"] if item else None


def scored_decoder(aws: AwsClients) -> FramedDecoder:
    return FramedDecoder(aws.registry(), contracts.load(contracts.SCORED_MESSAGE))


def stored(settings: Settings, ids: list[str]) -> dict[str, str]:
    with psycopg.connect(settings.database_url or "") as conn:
        rows = conn.execute(
            "SELECT message_id, verdict FROM scored_messages WHERE message_id = ANY(%s)", (ids,)
        ).fetchall()
    return dict(rows)


def test_every_streamed_message_is_scored_and_poison_is_set_aside(
    services: Launcher, aws: AwsClients, settings: Settings
) -> None:
    # GIVEN the sensors stream 200 messages with four kinds of poison among them (sent through
    # the front door by acme's sensor: it does not decode, the scorer does)
    ids = produce(aws, settings.raw_stream_name, seed=5, count=100)
    poison = {
        "acme/bad-magic": b"\x07\x00\x00\x00\x01abc",
        "acme/unknown-id": b"\x00\x00\x0f\x42\x3fabc",
        "acme/truncated": b"\x00\x00",
        "acme/oversize": b"\x00\x00\x00\x00\x01" + b"x" * (300 * 1024),
    }
    post(aws, "acme", [(data, key.removeprefix("acme/")) for key, data in poison.items()])
    ids += produce(aws, settings.raw_stream_name, seed=5, count=100)
    # WHEN the two scorers consume the raw stream
    out = wait_for("every message scored", lambda: (s := scored(aws, settings)) and set(ids) <= set(s) and s)
    # THEN each was scored by the current model, with its verdict
    assert {out[i]["model_version"] for i in ids} == {MODEL.version}
    assert {out[i]["source"] for i in ids} == {"STREAM"}
    # and each poison record was set aside with its reason
    aside = wait_for(
        "poison set aside",
        lambda: (
            (a := set_aside(aws, settings, "set_aside/stream/scorer/"))
            and len({x["partition_key"] for x in a} & set(poison)) == 4
            and a
        ),
    )
    reasons = {x["partition_key"]: x["reason"].split(":")[0] for x in aside if x["partition_key"] in poison}
    assert reasons == {
        "acme/bad-magic": "BadMagicByteError",
        "acme/unknown-id": "UnknownSchemaIdError",
        "acme/truncated": "TruncatedRecordError",
        "acme/oversize": "OversizeRecordError",
    }
    # and the scorers' metrics put the minute the poison came in over the scorer's paging error
    # rate (4 of about 200), computed with the alarm's own math as CloudWatch would a minute later
    alarm = describe(aws.client("cloudwatch"), "trustpipe-local-scorer-error-rate")
    evaluation = evaluate(
        alarm, emf_fetch(emitted(services, "scorer")), datetime.now(UTC) + timedelta(minutes=1)
    )
    assert evaluation.crossed and max(evaluation.crossed) > alarm["Threshold"], evaluation


def test_legal_records_no_worker_can_use_are_set_aside_and_the_rest_of_their_shard_stored(
    services: Launcher, aws: AwsClients, settings: Settings
) -> None:
    # GIVEN acme's v3 sensor posting, in one request, good records around two that are legal Avro
    # yet break a record rule: url_count = -1 (the features' log1p refuses it) and a display name
    # with a NUL (PostgreSQL's text refuses it). All sit on one raw shard, and the good ones share
    # the NUL record's scored shard: a stuck shard would hold them.
    run = uuid.uuid4().hex[:8]
    raw, on_scored = shard_of(aws, settings.raw_stream_name), shard_of(aws, settings.scored_stream_name)
    poison = f"<poison-{run}@x>"
    nul = next(m for i in range(1000) if raw(m := f"<nul-{run}-{i}@x>") == raw(poison))
    good = [
        m
        for i in range(2000)
        if raw(m := f"<good-{run}-{i}@x>") == raw(poison) and on_scored(m) == on_scored(nul)
    ][:6]
    assert len(good) == 6
    schema = contracts.email_metadata(3)
    encoder = FramedEncoder(aws.registry().register(contracts.EMAIL_METADATA_SUBJECT, schema), schema)

    def v3(message_id: str, **changes: Any) -> tuple[bytes, str]:
        record = email_v3(message_id=message_id, received_at=datetime.now(UTC), **changes)
        return encoder.encode(record), message_id

    post(
        aws,
        "acme",
        [
            *(v3(m) for m in good[:3]),
            v3(poison, url_count=-1),
            v3(nul, from_display_name="Alice\x00Chen"),
            *(v3(m) for m in good[3:]),
        ],
    )
    # WHEN the scorers and the stream importer have had them
    # THEN every good record, before and after the poison on its shard, is stored
    wait_for("the good records stored", lambda: set(stored(settings, good)) == set(good), timeout=300)
    # and each poison record is set aside by the scorer with the name of the rule it breaks
    keys = {f"acme/{poison}": "url_count_not_negative", f"acme/{nul}": "from_display_name_storable"}

    def poison_aside() -> list[dict[str, Any]]:
        found = [
            x for x in set_aside(aws, settings, "set_aside/stream/scorer/") if x["partition_key"] in keys
        ]
        return found if len(found) == len(keys) else []

    aside = wait_for("the poison set aside", poison_aside)
    rules = {r.name: r.reason for r in record_rules.RULES}
    assert {x["partition_key"]: x["reason"] for x in aside} == {k: rules[name] for k, name in keys.items()}
    kept = {
        x["partition_key"]: FramedDecoder(aws.registry(), schema).decode(bytes.fromhex(x["data_hex"]))
        for x in aside
    }
    assert kept[f"acme/{poison}"]["url_count"] == -1
    # and neither poison record is scored or stored
    assert not {poison, nul} & set(scored(aws, settings))
    assert stored(settings, [poison, nul]) == {}


def shard_of(aws: AwsClients, stream_name: str) -> Callable[[str], str]:
    """The open shard of ``stream_name`` that acme's record of a message id goes to (Kinesis
    hashes the partition key with MD5 onto the shards' hash key ranges)."""
    shards = [
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]), s["ShardId"])
        for s in aws.client("kinesis").list_shards(StreamName=stream_name)["Shards"]
        if "EndingSequenceNumber" not in s["SequenceNumberRange"]
    ]

    def shard(message_id: str) -> str:
        key = tenants.partition_key("acme", message_id)
        point = int(hashlib.md5(key.encode(), usedforsecurity=False).hexdigest(), 16)
        return next(name for first, last, name in shards if first <= point <= last)

    return shard


def test_exactly_once_through_scorer_importer_and_alerter_with_crashes(
    services: Launcher, aws: AwsClients, settings: Settings
) -> None:
    alert_queues = subscribe_to_alerts(aws, settings)
    # GIVEN the sensors stream; WHEN a scorer and the alerter die mid-stream and come back
    ids = produce(aws, settings.raw_stream_name, seed=5, count=150)
    wait_for("some verdicts stored", lambda: len(stored(settings, ids)) > 20)
    services.kill("scorer-1")
    services.kill("alerter")
    ids += produce(aws, settings.raw_stream_name, seed=5, count=150)
    services.restart("scorer-1")
    services.restart("alerter")
    ids += produce(aws, settings.raw_stream_name, seed=5, count=100)
    # THEN, once the path settled (late duplicates given 10 s more), every message is stored,
    # once ((enterprise, message id) is the key)
    messages = as_put(aws, settings, ids)
    settled = settle(aws, messages, timeout=540, every=2, linger=10)
    assert settled.lost == set(), f"{len(settled.lost)} of {len(messages)} not stored"
    verdicts = {m: row.verdict for m, row in settled.rows.items()}
    mix = Counter(verdicts.values())
    assert set(mix) == {"QUARANTINE", "LABEL", "PASS_THROUGH"}, mix
    # and each QUARANTINE/LABEL verdict got exactly one action, of its kind; PASS_THROUGH none
    actionable = {m: v for m, v in verdicts.items() if v != "PASS_THROUGH"}
    assert settled.missing_actions == set() and settled.duplicate_actions == 0
    assert {pair_of(a): a["action"] for a in settled.actions if pair_of(a) in verdicts} == actionable
    # and the enterprises' users were alerted of them
    alerted = {x for q in alert_queues for x in alerted_messages(aws, q)}
    assert set(actionable) <= alerted


def test_one_message_id_at_two_enterprises_is_stored_and_acted_on_at_each(
    services: Launcher, aws: AwsClients, settings: Settings
) -> None:
    # GIVEN one campaign's Message-ID reaching two enterprises: each copy put on the raw stream
    # with its enterprise's partition key, as the front door stamps it
    message_id = f"<campaign-{uuid.uuid4().hex[:12]}@phish.example>"
    enterprises = sorted(settings.action_queue_urls)[:2]
    put_raw(aws, settings, [campaign(enterprise, message_id) for enterprise in enterprises])
    # WHEN the scorers, the stream importer and the alerter have had them
    got: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def acted_at_each() -> bool:
        for queue_of, actions in drain_action_queues(aws).items():
            got[queue_of] += [a for a in actions if a["message_id"] == message_id]
        return all(got[e] for e in enterprises)

    wait_for("an action at each enterprise", acted_at_each, timeout=300, every=2)
    time.sleep(10)  # a late duplicate would come now
    acted_at_each()
    # THEN it is two rows, one per enterprise, each QUARANTINE
    assert stored_pairs(settings, message_id) == {(e, message_id): "QUARANTINE" for e in enterprises}
    # and one action on each enterprise's own queue, for that enterprise, with its own action id
    assert {q: [(a["enterprise_id"], a["action"]) for a in acts] for q, acts in got.items() if acts} == {
        e: [(e, "QUARANTINE")] for e in enterprises
    }
    assert all(got[e][0]["action_id"].startswith(f"{e}/{message_id}/") for e in enterprises)
    # and two claims in the actions table, both sent
    assert [claimed(aws, settings, e, message_id) for e in enterprises] == ["sent", "sent"]
    # and the verdicts went on to the alerters keyed by their pair
    forwarded = [
        r["PartitionKey"]
        for r in records(aws.client("kinesis"), settings.imported_stream_name)
        if scored_decoder(aws).decode(r["Data"])["message_id"] == message_id
    ]
    assert sorted(set(forwarded)) == [tenants.partition_key(e, message_id) for e in enterprises]


def test_a_model_promoted_mid_stream_is_picked_up(
    services: Launcher, aws: AwsClients, settings: Settings
) -> None:
    # GIVEN the scorers are running on stream-path-m1; WHEN stream-m2 is promoted and traffic goes on
    promote(aws, settings, "stream-path-m2")

    def on_m2() -> bool:
        ids = produce(aws, settings.raw_stream_name, seed=5, count=20)
        out = wait_for(
            "the batch scored", lambda: (o := scored(aws, settings)) and set(ids) <= set(o) and o, 60
        )
        return any(out[i]["model_version"] == "stream-path-m2" for i in ids)

    # THEN within about a minute (the scorers read the pointer every 30 s) new verdicts use it
    wait_for("stream-m2 in use", on_m2, timeout=120)


def test_local_status_shows_each_worker_and_sigterm_stops_them_cleanly(
    services: Launcher, aws: AwsClients
) -> None:
    # `trustpipe local status` shows each worker running, with what its batches processed
    status = run_cli("local", "status", "--state-dir", str(state_dir(services)))
    workers = json.loads(status.stdout)["workers"]
    assert {w for w, h in workers.items() if h["running"]} >= {
        "scorer-1",
        "scorer-2",
        "importer-1",
        "alerter-1",
    }
    assert sum(workers[w]["processed"] for w in ("scorer-1", "scorer-2")) >= 400
    assert workers["importer-1"]["processed"] >= 400 and workers["alerter-1"]["processed"] > 0
    # and SIGTERM stops every worker within the grace, cleanly
    began = time.monotonic()
    assert set(services.stop().values()) == {0}
    assert time.monotonic() - began < 90
    # and each service's silence alarm, evaluated on its heartbeats as CloudWatch would, counts
    # heartbeats in the minutes it ran and pages once 3 of its 5 minutes had none
    stopped = datetime.now(UTC)
    for service in ("scorer", "importer", "alerter"):
        alarm = describe(aws.client("cloudwatch"), f"trustpipe-local-{service}-silent")
        fetch = emf_fetch(emitted(services, service))
        running = evaluate(alarm, fetch, stopped + timedelta(minutes=1))
        assert any(v is not None and v >= alarm["Threshold"] for _, v in running.datapoints), running
        later = evaluate(alarm, fetch, stopped + timedelta(minutes=6))
        assert later.state == "ALARM" and [v for _, v in later.datapoints] == [None] * 5, later


def emitted(services: Launcher, service: str) -> list[Path]:
    """The EMF files of every worker of ``service`` (the CloudWatch agent ships them on a host)."""
    return sorted(state_dir(services).joinpath("workers").glob(f"{service}-*/*-metrics.log"))


def state_dir(services: Launcher) -> Path:
    """The stack's state folder, which holds the workers' own folders beside their logs."""
    return services.log_dir.parent


def subscribe_to_alerts(aws: AwsClients, settings: Settings) -> list[str]:
    """A test queue on each enterprise's alert topic, standing in for its users' inboxes."""
    sqs, sns = aws.client("sqs"), aws.client("sns")
    urls = []
    for enterprise_id, topic in settings.alert_topic_arns.items():
        url = sqs.create_queue(QueueName=f"test-alerts-{enterprise_id}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        urls.append(url)
    return urls


def alerted_messages(aws: AwsClients, url: str) -> set[Pair]:
    """The messages (enterprise, message id) the alerts on test queue ``url`` told of."""
    sqs = aws.client("sqs")
    out = set()
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get(
        "Messages"
    ):
        for m in messages:
            alert = json.loads(m["Body"])
            out |= {(alert["enterprise_id"], a["message_id"]) for a in alert["actions"]}
    return out
