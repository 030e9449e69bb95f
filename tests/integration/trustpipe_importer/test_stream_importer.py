"""The stream importer's worker on the real parts (PostgreSQL, the moto server's imported stream,
the local registry): the batch importer's upsert, verdicts forwarded only after the commit and
only when actionable, each keyed by its (enterprise, message id), bad records to import_errors
once; one Message-ID at two enterprises is two rows and two verdicts forwarded. The KCL around
it runs in the near-real-time path's test."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.harness.fakes import deliver
from tests.harness.hostile import bounded, scored_messages
from tests.harness.scored import scored
from tests.harness.streams import on_stream
from trustpipe import contracts, tenants
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder, FramedEncoder
from trustpipe.settings import Settings
from trustpipe_importer.app import stream_importer, upgrade
from trustpipe_importer.load import forward_all_pending
from trustpipe_scenarios.stream_demo import records
from trustpipe_stream.processor import StreamRecord

SCORED = contracts.load(contracts.SCORED_MESSAGE)


def framed(aws: AwsClients, rows: list[dict[str, Any]], first: int = 0) -> list[StreamRecord]:
    encoder = FramedEncoder(aws.registry().register(contracts.SCORED_MESSAGE_SUBJECT, SCORED), SCORED)
    return [
        StreamRecord(encoder.encode(r), r["message_id"], str(first + n), 0, 0, "shardId-000000000000")
        for n, r in enumerate(rows)
    ]


def imported_after(aws: AwsClients, settings: Settings, before: int) -> list[tuple[str, dict[str, Any]]]:
    """(partition key, verdict) of each record on the imported stream after the first ``before``."""
    decoder = FramedDecoder(aws.registry(), SCORED)
    on_imported = list(records(aws.client("kinesis"), settings.imported_stream_name))[before:]
    return [(r["PartitionKey"], decoder.decode(r["Data"])) for r in on_imported]


def query(settings: Settings, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.database_url or "") as conn:
        return conn.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def db(settings: Settings) -> Settings:
    upgrade(settings)
    return settings


def test_a_batch_is_stored_once_and_its_actionable_verdicts_forwarded(db: Settings, aws: AwsClients) -> None:
    # GIVEN 30 scored messages on the stream, a third of them QUARANTINE, plus two bad records
    rows = scored(20, "stream-pass") + scored(10, "stream-q", verdict="QUARANTINE")
    rows = [{**r, "source": "STREAM", "source_ref": "shardId-000000000000:1"} for r in rows]
    batch = framed(aws, rows)
    bad = [
        StreamRecord(b"\x01junk", "bad-magic", "900", 0, 0, "shardId-000000000000"),
        StreamRecord(batch[0].data[:9], "truncated", "901", 0, 0, "shardId-000000000000"),
    ]
    worker = stream_importer(aws)
    before = len(on_stream(aws, db.imported_stream_name))
    # WHEN the importer processes the batch, twice (a redelivery after a crash before checkpoint)
    for _ in range(2):
        rejected = worker.process([*batch[:15], *bad, *batch[15:]])
        worker.set_aside("shardId-000000000000", rejected)
    # THEN every message is stored once, as scored
    stored = query(
        db, "SELECT message_id, verdict, source FROM scored_messages WHERE message_id LIKE '<stream-%%'"
    )
    assert sorted(m for m, _, _ in stored) == sorted(r["message_id"] for r in rows)
    assert {s for _, _, s in stored} == {"STREAM"}
    # and only the QUARANTINE verdicts went on to the alerters, once (the redelivery stored
    # nothing new, so it forwarded nothing)
    forwarded = imported_after(aws, db, before)
    assert sorted(f["message_id"] for _, f in forwarded) == sorted(
        r["message_id"] for r in rows if r["verdict"] == "QUARANTINE"
    )
    # each keyed by its message's pair, as the scored stream is
    assert all(key == tenants.partition_key(f["enterprise_id"], f["message_id"]) for key, f in forwarded)
    # and each bad record is in import_errors once, with its reason and position
    errors = query(
        db, "SELECT object_key, error_type FROM import_errors WHERE object_key LIKE 'kinesis://%%/90_'"
    )
    assert sorted(errors) == [
        (f"kinesis://{db.scored_stream_name}/shardId-000000000000/900", "BadMagicByteError"),
        (f"kinesis://{db.scored_stream_name}/shardId-000000000000/901", "TruncatedRecordError"),
    ]


def test_one_message_id_at_two_enterprises_is_two_rows_and_two_verdicts_forwarded(
    db: Settings, aws: AwsClients
) -> None:
    # GIVEN one campaign's Message-ID scored QUARANTINE at acme and at globex, in one batch
    (row,) = scored(1, "campaign", verdict="QUARANTINE")
    copies = [
        {**row, "enterprise_id": e, "source": "STREAM", "source_ref": "s:1"} for e in ("acme", "globex")
    ]
    worker = stream_importer(aws)
    before = len(on_stream(aws, db.imported_stream_name))
    # WHEN the importer processes it, twice (a redelivery)
    for _ in range(2):
        assert worker.process(framed(aws, copies)) == []
    # THEN it is two rows, one per enterprise (neither overwrote the other's)
    stored = query(
        db, "SELECT enterprise_id, verdict FROM scored_messages WHERE message_id = %s", row["message_id"]
    )
    assert sorted(stored) == [("acme", "QUARANTINE"), ("globex", "QUARANTINE")]
    # and each verdict went on to the alerters under its own pair's partition key
    keys = Counter(key for key, _ in imported_after(aws, db, before))
    assert keys == {tenants.partition_key(e, row["message_id"]): 1 for e in ("acme", "globex")}


class TransientLoop(AssertionError):
    """A batch retried as transient more than a few times: a hostile record made it loop."""


def no_more_than_three_retries() -> Any:
    waits = []

    def sleep(_seconds: float) -> None:
        waits.append(_seconds)
        if len(waits) > 3:
            raise TransientLoop("the batch keeps failing as transient")

    return sleep


@bounded(10)
@given(verdicts=st.lists(scored_messages(["acme", "globex"]), min_size=1, max_size=6))
def test_any_decodable_scored_record_is_stored_or_set_aside(
    db: Settings, aws: AwsClients, verdicts: list[dict[str, Any]]
) -> None:
    # GIVEN any batch of decodable ScoredMessages on one shard of the scored stream
    shard = f"shardId-{uuid.uuid4().hex[:12]}"
    batch = [StreamRecord(r.data, "k", str(n), 0, 0, shard) for n, r in enumerate(framed(aws, verdicts))]
    # WHEN the shard processor hands it to the stream importer
    checkpointer = deliver(stream_importer(aws), batch, shard, sleep=no_more_than_three_retries())
    # THEN the shard moves past it, and each record is in import_errors by its position or stored
    assert checkpointer.at == [batch[-1].sequence_number]
    prefix = f"kinesis://{db.scored_stream_name}/{shard}/"
    aside = {
        k.removeprefix(prefix)
        for (k,) in query(db, "SELECT object_key FROM import_errors WHERE object_key LIKE %s", prefix + "%")
    }
    for n, v in enumerate(verdicts):
        if str(n) in aside:
            continue
        assert "\x00" not in v["message_id"] + v["enterprise_id"], v
        stored = query(
            db,
            "SELECT 1 FROM scored_messages WHERE enterprise_id = %s AND message_id = %s",
            v["enterprise_id"],
            v["message_id"],
        )
        assert stored, v


class Refused(Exception):
    """The imported stream refusing a put for a reason of its own."""


def test_only_stored_verdicts_are_forwarded_and_a_failed_forward_is_made_by_the_redelivery(
    db: Settings, aws: AwsClients
) -> None:
    # GIVEN 4 messages stored with a later-promoted model's PASS_THROUGH
    rows = [{**r, "source": "STREAM", "source_ref": "s:2"} for r in scored(10, "stream-kept")]
    worker = stream_importer(aws)
    assert worker.process(framed(aws, [{**r, "model_promotion": 9} for r in rows[:4]])) == []
    before = len(on_stream(aws, db.imported_stream_name))
    # WHEN an earlier promotion's QUARANTINE of all 10 arrives and the imported stream refuses it
    quarantined = framed(aws, [{**r, "model_promotion": 8, "verdict": "QUARANTINE"} for r in rows])
    working = worker.forward

    def refuse(verdicts: list[dict[str, Any]]) -> None:
        raise Refused(f"{len(verdicts)} verdicts")

    worker.forward = refuse
    with pytest.raises(Refused, match="6 verdicts"):
        worker.process(quarantined)
    # THEN the 6 it stored are kept for the alerters, the 4 newer ones untouched
    verdicts = (
        "SELECT verdict, count(*) FROM scored_messages WHERE message_id LIKE '<stream-kept-%%' GROUP BY 1"
    )
    assert sorted(query(db, verdicts)) == [("PASS_THROUGH", 4), ("QUARANTINE", 6)]
    assert len(on_stream(aws, db.imported_stream_name)) == before
    # WHEN the batch comes again (the processor retries it) and the stream takes it
    worker.forward = working
    assert worker.process(quarantined) == []
    # THEN those 6 verdicts are forwarded, once, and nothing waits
    forwarded = [f["message_id"] for _, f in imported_after(aws, db, before)]
    assert sorted(forwarded) == sorted(r["message_id"] for r in rows[4:])
    assert query(db, "SELECT count(*) FROM import_forwards WHERE message_id LIKE '<stream-kept-%%'") == [(0,)]


def test_verdicts_no_redelivery_will_forward_are_forwarded_by_forward_pending(
    db: Settings, aws: AwsClients
) -> None:
    # GIVEN a batch stored whose forward was refused, and whose records the processor then set
    # aside (the refusal was not transient): no redelivery will forward its verdicts
    rows = [{**r, "source": "STREAM", "source_ref": "s:3"} for r in scored(5, "stream-lost", verdict="LABEL")]
    worker = stream_importer(aws)
    working = worker.forward

    def refuse(verdicts: list[dict[str, Any]]) -> None:
        raise Refused(f"{len(verdicts)} verdicts")

    worker.forward = refuse
    with pytest.raises(Refused):
        worker.process(framed(aws, rows))
    # AND an object left `stored` whose verdicts went out meanwhile
    query(
        db,
        "INSERT INTO import_ledger (object_key, etag, bucket, outcome, records) "
        "VALUES ('scored/lost.avro', 'e1', 'b', 'stored', 5) RETURNING 1",
    )
    before = len(on_stream(aws, db.imported_stream_name))
    # WHEN the on-call runs `trustpipe importer forward-pending`
    forwarded = forward_all_pending(lambda: psycopg.connect(db.database_url or ""), working, 0)
    # THEN the 5 verdicts go to the alerters, nothing waits, and the object is imported
    assert forwarded == 5
    assert sorted(f["message_id"] for _, f in imported_after(aws, db, before)) == sorted(
        r["message_id"] for r in rows
    )
    assert query(db, "SELECT count(*) FROM import_forwards") == [(0,)]
    assert query(db, "SELECT outcome FROM import_ledger WHERE object_key = 'scored/lost.avro'") == [
        ("imported",)
    ]
