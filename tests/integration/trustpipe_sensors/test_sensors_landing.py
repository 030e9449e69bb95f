"""An hour of sensor files written to the landing bucket and read back through the v4 reader."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import pytest

from tests.harness.cli import run_cli
from trustpipe import contracts, layout, s3, tenants
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder, FramedEncoder, container_bytes
from trustpipe.landing import inventory
from trustpipe.settings import Settings
from trustpipe_scenarios.stream_demo import records
from trustpipe_sensors import hostile
from trustpipe_sensors.app import run_batch
from trustpipe_stack.stack import LocalStack


def test_hour_lands_and_reads_back_through_v4(aws: AwsClients, settings: Settings) -> None:
    # GIVEN one simulated hour written by three sensors on three schema versions
    hour = layout.parse_hour("2026-11-26T09")
    drops = run_batch(aws, hour, seed=11, enterprise_ids=None, scale=0.25)
    # WHEN the landing bucket is read back through the codec with the v4 reader
    inv = inventory(aws.s3, settings.landing_bucket, hour)
    # THEN every record written is read, in the version its sensor wrote
    assert not inv.set_aside
    assert {f.key: f.records for f in inv.files} == {d.key: d.records for d in drops}
    assert {f.enterprise_id: f.schema_version for f in inv.files} == {
        "acme": 1,
        "globex": 2,
        "initech": 3,
    }
    # and each drop's labels beside it (this hour's only: other modules on this stack land labels)
    labels = s3.list_objects(aws.s3, settings.archive_bucket, layout.LABELS_PREFIX)
    assert len([o for o in labels if "date=2026-11-26/hour=09/" in o["Key"]]) == len(drops)


def test_rerun_writes_identical_objects(aws: AwsClients, settings: Settings) -> None:
    hour = layout.parse_hour("2026-11-26T10")
    prefix = layout.landing_hour_prefix("initech", hour)

    def land_and_list() -> dict[str, str]:
        run_batch(aws, hour, seed=3, enterprise_ids=["initech"], scale=0.1)
        return {o["Key"]: o["ETag"] for o in s3.list_objects(aws.s3, settings.landing_bucket, prefix)}

    first, again = land_and_list(), land_and_list()
    assert first == again and len(first) == 4


HOSTILE: dict[str, Callable[[], bytes]] = {
    "bzip2-200MB-string": lambda: hostile.long_string(200 * 1024 * 1024, "bzip2"),
    "deflate-block-over-cap": lambda: hostile.long_string(8 * 1024 * 1024),
    "array-of-null": hostile.null_array,
    "huge-count": hostile.huge_count,
}
"""The issue's reproductions (a few KB each) and their kin; see trustpipe_sensors.hostile."""


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("not-avro", b"subject,from\nhello,a@b.c\n", "BadMagicByteError"),
        ("truncated", None, "TruncatedRecordError"),
        ("unknown-schema", "scored", "SchemaMismatchError"),
        ("empty", b"", "TruncatedRecordError"),
        ("bzip2-200MB-string", "bzip2-200MB-string", "CodecNotAllowedError"),
        ("deflate-block-over-cap", "deflate-block-over-cap", "OversizeBlockError"),
        ("array-of-null", "array-of-null", "UnboundedSchemaError"),
        ("huge-count", "huge-count", "ItemCountError"),
    ],
)
def test_bad_landing_objects_are_set_aside_and_the_rest_proceeds(
    aws: AwsClients, settings: Settings, name: str, body: bytes | str | None, reason: str
) -> None:
    # GIVEN a good drop and a bad object in the same hour
    hour = layout.parse_hour("2026-11-26T11")
    drops = run_batch(aws, hour, seed=5, enterprise_ids=["globex"], scale=0.05)
    good = container_bytes(contracts.email_metadata(2), [])
    if body is None:
        full = aws.s3.get_object(Bucket=settings.landing_bucket, Key=drops[0].key)["Body"].read()
        body = full[: len(full) // 2]
    elif body == "scored":
        body = container_bytes(contracts.load(contracts.SCORED_MESSAGE), [])
    elif isinstance(body, str):
        body = HOSTILE[body]()
    assert good  # an empty but valid file is not bad input
    key = f"{layout.landing_hour_prefix('globex', hour)}quarter=9/{name}.avro"
    aws.s3.put_object(Bucket=settings.landing_bucket, Key=key, Body=body)
    try:
        # WHEN the hour is read
        inv = inventory(aws.s3, settings.landing_bucket, hour)
        # THEN the bad object is set aside with its reason, and every good record is counted
        assert [(r.key, r.reason.split(":")[0]) for r in inv.set_aside] == [(key, reason)]
        assert inv.records == sum(d.records for d in drops)
    finally:
        aws.s3.delete_object(Bucket=settings.landing_bucket, Key=key)


def test_framed_records_survive_a_kinesis_round_trip(aws: AwsClients, settings: Settings) -> None:
    # The streams carry Confluent-framed records; the codec frames them, Kinesis keeps the bytes.
    kinesis = aws.client("kinesis")
    data = FramedEncoder(7, contracts.email_metadata(3)).encode(
        {
            **dict.fromkeys(
                (
                    "message_id",
                    "enterprise_id",
                    "from_address",
                    "from_display_name",
                    "return_path",
                    "sending_ip",
                ),
                "x",
            ),
            "received_at": 0,
            "recipient_count": 1,
            "subject_length": 1,
            "size_bytes": 1,
            "spf": "PASS",
            "dkim": "PASS",
            "dmarc": "PASS",
            "url_count": 0,
            "attachment_count": 0,
            "reply_to": None,
            "dkim_domain": None,
            "urls": [],
            "attachments": [],
            "in_known_thread": False,
        }
    )
    put = kinesis.put_record(StreamName=settings.raw_stream_name, Data=data, PartitionKey="x")
    it = kinesis.get_shard_iterator(
        StreamName=settings.raw_stream_name,
        ShardId=put["ShardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=put["SequenceNumber"],
    )["ShardIterator"]
    (record, *_) = kinesis.get_records(ShardIterator=it)["Records"]
    assert record["Data"] == data


def test_cli_sensors_run_and_inspect(local_stack: LocalStack) -> None:
    state = ["--state-dir", str(local_stack.state_dir)]
    run = run_cli("sensors", "run", "--hour", "2026-11-26T12", "--scale", "0.05", *state)
    assert run.returncode == 0, run.stderr
    inspect = run_cli("landing", "inspect", "--hour", "2026-11-26T12", "--json", *state)
    assert inspect.returncode == 0, inspect.stderr
    files = json.loads(inspect.stdout)["files"]
    assert Counter(f["schema_version"] for f in files) == {1: 4, 2: 4, 3: 4}


def test_cli_sensors_stream_puts_exactly_count_records_and_records_the_run(
    local_stack: LocalStack, aws: AwsClients, settings: Settings
) -> None:
    import re

    kinesis = aws.client("kinesis")

    def on_stream() -> dict[str, bytes]:
        return {r["PartitionKey"]: r["Data"] for r in records(kinesis, settings.raw_stream_name)}

    before = on_stream()
    # GIVEN a v4 writer registered before any v1 sensor streamed (the registry checks a new schema
    # against the subject's latest only: the stack registers the history first, oldest first)
    aws.registry().register(contracts.EMAIL_METADATA_SUBJECT, contracts.email_metadata(4))
    # WHEN the sensors stream 45 messages at 30 a second through the CLI
    state = ["--state-dir", str(local_stack.state_dir)]
    run = run_cli("sensors", "run", "--mode", "stream", "--count", "45", "--rate", "30", *state)
    assert run.returncode == 0, run.stderr
    # THEN exactly 45 new records are on the raw stream, framed with registered sensor schemas
    new = {k: v for k, v in on_stream().items() if k not in before}
    assert len(new) == 45
    # each keyed by the front door as its sender's enterprise and message id
    decoder = FramedDecoder(aws.registry(), contracts.reader_schema())
    decoded = [decoder.decode(v) for v in new.values()]
    assert {tenants.partition_key(m["enterprise_id"], m["message_id"]) for m in decoded} == set(new)
    # and the run's manifest counts them per enterprise, beside their ground truth
    run_id = re.search(r"run (\w+)", run.stdout)
    assert run_id, run.stdout
    manifest = json.loads(
        aws.s3.get_object(Bucket=settings.archive_bucket, Key=layout.stream_run_key(run_id.group(1)))[
            "Body"
        ].read()
    )
    assert sum(manifest["produced"].values()) == 45


def test_cli_sensors_stream_refuses_a_run_without_a_bound(local_stack: LocalStack) -> None:
    run = run_cli("sensors", "run", "--mode", "stream", "--state-dir", str(local_stack.state_dir))
    assert run.returncode == 2 and "--duration or --count" in run.stderr
    bad = run_cli("sensors", "run", "--mode", "trickle", "--state-dir", str(local_stack.state_dir))
    assert bad.returncode == 2 and "batch or stream" in bad.stderr
