"""The indexer on the local stack's real parts: the moto server's scored bucket, topic and the
indexer's own queue, the registry, PostgreSQL, and the stack's OpenSearch emulator. The stream
indexer is driven in-process (the KCL around it is the stream workers' own, tested with them);
the queue indexer drains its queue as its unit would. Each test works on days of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from opensearchpy import OpenSearch

from tests.harness.streams import set_aside
from tests.harness.waits import wait_for
from trustpipe import contracts, s3
from trustpipe.announcements import ObjectCreated
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedEncoder, container_bytes
from trustpipe.db.connect import connector
from trustpipe.db.query import PostgresDatabase
from trustpipe.settings import Settings
from trustpipe.tenants import TenantError
from trustpipe_importer.app import upgrade
from trustpipe_importer.load import import_object
from trustpipe_search import documents, engine, queries, reconcile
from trustpipe_search.app import queue_indexer, stream_indexer
from trustpipe_search.reindex import reindex
from trustpipe_stack.launcher import Launcher
from trustpipe_stack.procs import shipped_command
from trustpipe_stack.stack import LocalStack
from trustpipe_stream.processor import StreamRecord
from trustpipe_stream.put import Putter

pytestmark = pytest.mark.integration
SCORED = contracts.load(contracts.SCORED_MESSAGE)


def rows(
    n: int,
    prefix: str,
    hour: datetime,
    enterprise: str = "acme",
    promotion: int = 1,
    verdict: str = "PASS_THROUGH",
    source: str = "BATCH",
) -> list[dict[str, Any]]:
    return [
        {
            "message_id": f"<{prefix}-{i}@x>",
            "enterprise_id": enterprise,
            "received_at": hour + timedelta(minutes=i % 60, seconds=i // 60),
            "scored_at": hour + timedelta(hours=1, seconds=i),
            "from_address": f"sender{i % 3}@{enterprise}-partner.com",
            "from_display_name": f"Sender {i % 3} of {enterprise.title()}",
            "from_domain": f"{enterprise}-partner.com",
            "reply_to": None,
            "sending_ip": "198.51.100.1",
            "score": (i % 100) / 100,
            "verdict": verdict,
            "reasons": ["spf_fail"] if i % 2 else [],
            "model_version": f"20261001T000000-{promotion}",
            "model_promotion": promotion,
            "source": source,
            "source_ref": f"{hour:%Y-%m-%dT%H}",
            "sensor_schema_version": 3,
        }
        for i in range(n)
    ]


def hour_key(hour: datetime, part: int = 0) -> str:
    return f"scored/date={hour:%Y-%m-%d}/hour={hour:%H}/messages/part-{part:05d}.avro"


@pytest.fixture(scope="module")
def client(settings: Settings) -> OpenSearch:
    c = engine.connect(settings)
    engine.ensure_template(c)
    return c


@pytest.fixture
def queue(settings: Settings, aws: AwsClients) -> Iterator[Settings]:
    """The indexer's queue emptied of what earlier tests' objects announced."""
    sqs = aws.client("sqs")
    while messages := sqs.receive_message(
        QueueUrl=settings.search_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
    ).get("Messages"):
        for m in messages:
            sqs.delete_message(QueueUrl=settings.search_queue_url, ReceiptHandle=m["ReceiptHandle"])
    yield settings


def drain(aws: AwsClients) -> Any:
    worker = queue_indexer(aws, wait_seconds=1, visibility_timeout=30)
    worker.refresh = True
    return worker.run(once=True)


def framed(aws: AwsClients, batch: list[dict[str, Any]], first: int = 0) -> list[StreamRecord]:
    encoder = FramedEncoder(aws.registry().register(contracts.SCORED_MESSAGE_SUBJECT, SCORED), SCORED)
    return [
        StreamRecord(
            encoder.encode(r), f"{r['enterprise_id']}/{r['message_id']}", str(first + n), 0, 0, "shardId-0"
        )
        for n, r in enumerate(batch)
    ]


def stored(client: OpenSearch, row: dict[str, Any]) -> dict[str, Any]:
    got: dict[str, Any] = client.get(
        index=documents.index_name(row["received_at"]),
        id=documents.doc_id(row["enterprise_id"], row["message_id"]),
    )
    return got


def day_count(client: OpenSearch, enterprise: str, day: datetime) -> int:
    """The enterprise's documents of messages received on ``day`` (0 before any index exists)."""
    engine.refresh(client)
    answer = client.count(
        index=documents.READ_ALIAS,
        params={"ignore_unavailable": "true", "allow_no_indices": "true"},
        body={
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"enterprise_id": enterprise}},
                        {
                            "range": {
                                "received_at": {
                                    "gte": day.isoformat(),
                                    "lt": (day + timedelta(days=1)).isoformat(),
                                }
                            }
                        },
                    ]
                }
            }
        },
    )
    return int(answer["count"])


def test_both_paths_land_with_their_ids_and_versions_and_the_newer_model_wins(
    queue: Settings, aws: AwsClients, client: OpenSearch
) -> None:
    hour = datetime(2026, 10, 1, 5, tzinfo=UTC)
    # GIVEN 40 messages scored in batch by promotion 1, announced on the topic; and 10 of the same
    # messages plus 20 others scored on the stream, the 10 by promotion 2 (a newer model)
    batch = rows(40, "both", hour)
    newer = [{**r, "model_promotion": 2, "verdict": "QUARANTINE", "source": "STREAM"} for r in batch[:10]]
    streamed = newer + rows(20, "only-stream", hour, source="STREAM")
    worker = stream_indexer(aws)
    worker.refresh = True
    # WHEN the stream indexer takes its batch first, then the queue indexer the batch object
    assert worker.process(framed(aws, streamed)) == []
    s3.put(aws.s3, queue.scored_bucket, hour_key(hour), container_bytes(SCORED, batch))
    counts = drain(aws)
    # THEN every message is one document, under its id, in its day's index
    assert day_count(client, "acme", hour) == 60
    assert (counts.objects, counts.indexed, counts.superseded) == (1, 30, 10)
    for row in batch[10:]:
        doc = stored(client, row)
        assert doc["_version"] == documents.version(1, row["scored_at"])
        assert doc["_source"]["source"] == "BATCH"
    # and the newer model's verdict stayed though the older one came second
    for row in newer:
        doc = stored(client, row)
        assert (doc["_version"], doc["_source"]["verdict"]) == (
            documents.version(2, row["scored_at"]),
            "QUARANTINE",
        )
    # WHEN the stream brings the older verdicts again (a redelivery) THEN nothing changes
    assert worker.process(framed(aws, [{**r, "source": "STREAM"} for r in batch[:10]], 100)) == []
    assert stored(client, newer[0])["_source"]["verdict"] == "QUARANTINE"
    # WHEN a third promotion scores one of them THEN it replaces what was there
    third = {**newer[0], "model_promotion": 3, "verdict": "LABEL"}
    assert worker.process(framed(aws, [third], 200)) == []
    assert stored(client, third)["_source"]["verdict"] == "LABEL"


def test_bad_input_on_either_path_is_set_aside_with_its_reason_and_the_rest_indexed(
    queue: Settings, aws: AwsClients, client: OpenSearch
) -> None:
    hour = datetime(2026, 10, 2, 7, tzinfo=UTC)
    good = rows(5, "bad-in", hour)
    unversionable = {**rows(1, "negative", hour)[0], "model_promotion": -1}
    # GIVEN an object that is not Avro, and one whose rows include one no version can order
    s3.put(aws.s3, queue.scored_bucket, hour_key(hour, 1), b"this is not avro")
    s3.put(aws.s3, queue.scored_bucket, hour_key(hour, 2), container_bytes(SCORED, [*good, unversionable]))
    # WHEN the queue indexer drains its queue
    counts = drain(aws)
    # THEN the good rows are in, the rest are in the archive bucket with one reason each, and the
    # queue is empty (nothing loops)
    assert day_count(client, "acme", hour) == 5
    assert counts.set_aside == 2
    kept = set_aside(aws, queue, f"set_aside/search/scored/date={hour:%Y-%m-%d}/")
    reasons = {line["object_key"].rsplit("/", 1)[1]: line["reason"] for line in kept}
    assert reasons["part-00001.avro"].startswith("BadMagicByteError")
    assert reasons["part-00002.avro"].startswith("UnindexableError: model_promotion -1")
    assert (
        aws.client("sqs").receive_message(QueueUrl=queue.search_queue_url, WaitTimeSeconds=0).get("Messages")
        is None
    )
    # AND on the stream, an undecodable record is set aside and its neighbours indexed
    worker = stream_indexer(aws)
    batch = framed(aws, rows(3, "stream-bad", hour))
    junk = StreamRecord(b"\x00\x7f\xff\xff\xf0junk", "acme/x", "9", 0, 0, "shardId-0")
    rejected = worker.process([*batch, junk])
    assert [(x.record.sequence_number, x.reason.split(":")[0]) for x in rejected] == [
        ("9", "UnknownSchemaIdError")
    ]
    worker.set_aside("shardId-0", rejected)
    assert day_count(client, "acme", hour) == 8


def test_reindex_rebuilds_hours_from_the_lake_idempotently(
    queue: Settings, aws: AwsClients, client: OpenSearch
) -> None:
    first = datetime(2026, 10, 3, 10, tzinfo=UTC)
    hours = [first, first + timedelta(hours=1)]
    for n, hour in enumerate(hours):
        s3.put(
            aws.s3, queue.scored_bucket, hour_key(hour), container_bytes(SCORED, rows(30 + n, f"re{n}", hour))
        )
    # WHEN the hours are reindexed into an index that has none of them, then again
    once = reindex(client, aws.s3, queue.scored_bucket, queue.archive_bucket, hours, refresh=True)
    again = reindex(client, aws.s3, queue.scored_bucket, queue.archive_bucket, hours, refresh=True)
    # THEN the first wrote every message, the second none, and the index holds each once
    assert (once.hours, once.objects, once.written, once.superseded) == (2, 2, 61, 0)
    assert (again.written, again.superseded) == (0, 61)
    assert day_count(client, "acme", first) == 61


def test_no_query_shows_one_enterprise_anything_of_another(
    queue: Settings, aws: AwsClients, client: OpenSearch
) -> None:
    hour = datetime(2026, 10, 4, 9, tzinfo=UTC)
    day = date(2026, 10, 4)
    # GIVEN acme's and globex's quarantined mail on the same day, with the same message ids
    acme = rows(12, "shared", hour, "acme", verdict="QUARANTINE")
    globex = rows(3, "shared", hour, "globex", verdict="QUARANTINE")
    worker = stream_indexer(aws)
    worker.refresh = True
    assert worker.process(framed(aws, acme + globex)) == []
    # THEN each sees its own quarantine, newest first
    mine = queries.quarantined(client, "globex", day)
    assert mine.total == 3 and {h["enterprise_id"] for h in mine.hits} == {"globex"}
    times = [h["received_at"] for h in mine.hits]
    assert times == sorted(times, reverse=True)
    assert queries.quarantined(client, "acme", day).total == 12
    # and no sender text reaches the other's mail: its address, domain, display name, an injection
    for sender in ("sender1@acme-partner.com", "acme-partner.com", "Acme", '"}},{"match_all":{}}]}}', "*"):
        assert all(h["enterprise_id"] == "globex" for h in queries.by_sender(client, "globex", sender).hits)
    counts = queries.hourly_verdicts(client, "globex", hour, hour + timedelta(hours=1))
    assert counts == {hour: {"QUARANTINE": 3}}
    # and an enterprise that is not an enterprise id is refused, never widened
    for forged in ("acme\n", "*", "acme OR globex", "", "ACME"):
        with pytest.raises(TenantError):
            queries.quarantined(client, forged, day)


def test_reconciliation_counts_the_index_against_the_store_and_a_reindex_closes_a_drift(
    queue: Settings, aws: AwsClients, client: OpenSearch
) -> None:
    upgrade(queue)
    hour = datetime(2026, 10, 5, 14, tzinfo=UTC)
    key = hour_key(hour)
    # GIVEN an hour of two enterprises stored by the importer, and indexed from the stream
    # except two of globex's messages (records the indexer never got)
    acme, globex = rows(20, "rec", hour, "acme"), rows(7, "rec", hour, "globex")
    body = container_bytes(SCORED, acme + globex)
    s3.put(aws.s3, queue.scored_bucket, key, body)
    etag = aws.s3.head_object(Bucket=queue.scored_bucket, Key=key)["ETag"].strip('"')
    import_object(connector(queue), aws.s3, ObjectCreated(queue.scored_bucket, key, etag, len(body)))
    worker = stream_indexer(aws)
    worker.refresh = True
    assert worker.process(framed(aws, acme + globex[2:])) == []
    db = PostgresDatabase(connector(queue))
    # THEN the drift names globex, and the metric carries it
    found = reconcile.drift(client, db, hour)
    assert (found.index, found.store) == ({"acme": 20, "globex": 5}, {"acme": 20, "globex": 7})
    assert (found.by_enterprise, found.total) == ({"acme": 0, "globex": -2}, 2)
    assert reconcile.drift_datum("message_scoring_hourly", found)["Value"] == 2.0
    assert "globex': -2" in found.describe()
    # WHEN the hour is reindexed from the lake THEN they agree again
    reindex(client, aws.s3, queue.scored_bucket, queue.archive_bucket, [hour], refresh=True)
    assert reconcile.drift(client, db, hour).total == 0


def test_retention_deletes_whole_days_past_the_window(aws: AwsClients, client: OpenSearch) -> None:
    # GIVEN documents on four days of 2001 (no other test's days are that old)
    worker = stream_indexer(aws)
    for n in range(4):
        day = datetime(2001, 1, 1 + n, 12, tzinfo=UTC)
        assert worker.process(framed(aws, rows(2, f"old{n}", day))) == []
    # WHEN two days are kept on 2001-01-04
    gone = engine.delete_older_than(client, 2, now=datetime(2001, 1, 4, 8, tzinfo=UTC))
    # THEN the days before the 3rd are gone, whole
    assert gone == ["trustpipe-messages-2001.01.01", "trustpipe-messages-2001.01.02"]
    remaining = [n for n in engine.daily_indices(client) if n.startswith("trustpipe-messages-2001")]
    assert remaining == ["trustpipe-messages-2001.01.03", "trustpipe-messages-2001.01.04"]


def test_the_indexer_service_indexes_the_scored_stream_under_the_kcl(
    local_stack: LocalStack, settings: Settings, aws: AwsClients, client: OpenSearch
) -> None:
    # GIVEN the indexer as its unit runs it (`trustpipe indexer run`: its KCL daemon and a
    # processor per leased shard), and scored messages put on the scored stream
    hour = datetime(2026, 10, 6, 3, tzinfo=UTC)
    batch = rows(30, "kcl", hour, source="STREAM")
    encoder = FramedEncoder(aws.registry().register(contracts.SCORED_MESSAGE_SUBJECT, SCORED), SCORED)
    workers = Launcher(local_stack.state_dir / "workers")
    workers.start("indexer", shipped_command("indexer", "run", "--state-dir", str(local_stack.state_dir)))
    try:
        Putter(aws.client("kinesis"), settings.scored_stream_name).put(
            (encoder.encode(r), f"{r['enterprise_id']}/{r['message_id']}") for r in batch
        )
        # THEN every one becomes a document, with its id and version
        wait_for("the indexer's documents", lambda: day_count(client, "acme", hour) == 30, timeout=300)
        assert stored(client, batch[7])["_version"] == documents.version(1, batch[7]["scored_at"])
    finally:
        # and SIGTERM stops it cleanly (its processors checkpoint, its daemon releases its leases)
        codes = workers.stop("indexer")
    assert codes == {"indexer": 0}
