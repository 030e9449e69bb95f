"""Batch import on the real parts: S3 -> SNS -> SQS on the moto server, PostgreSQL for real."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.harness.cli import CLI
from tests.harness.models import artifact as model_artifact
from tests.harness.paths import ROOT
from tests.harness.scored import BASE, scored
from tests.harness.streams import on_stream
from tests.harness.waits import wait_for
from trustpipe import announcement_queue, contracts, s3, tenants
from trustpipe.announcements import ObjectCreated
from trustpipe.aws import AwsClients
from trustpipe.codec import container_bytes
from trustpipe.metrics import WORKERS
from trustpipe.model import artifact as model_store
from trustpipe.settings import Settings
from trustpipe.telemetry import WorkerMetrics
from trustpipe_emulation import aws_metrics
from trustpipe_emulation.alarms import (
    Query,
    cloudwatch_fetch,
    describe,
    dimensions,
    emf_fetch,
    evaluate,
    metric_query,
)
from trustpipe_importer.app import importer, upgrade
from trustpipe_importer.blocks import DecodePool
from trustpipe_importer.load import IMPORTED_SQL, Outcome, import_object
from trustpipe_scenarios.stream_demo import records
from trustpipe_stack.stack import LocalStack


def stats(model: str = "20261120T000000-a") -> list[dict[str, Any]]:
    return [
        {
            "enterprise_id": e,
            "hour": "2026-11-20T08",
            "model_version": model,
            "messages": 10,
            "quarantined": 1,
            "labelled": 2,
            "passed": 7,
            "set_aside": 0,
            "mean_score": 0.1,
            "computed_at": BASE,
        }
        for e in ("acme", "globex")
    ]


@pytest.fixture(scope="module")
def db(settings: Settings) -> Settings:
    upgrade(settings)
    return settings


@pytest.fixture
def clean(db: Settings, aws: AwsClients) -> Iterator[Settings]:
    """Empty tables and queues before each test."""
    with psycopg.connect(db.database_url or "") as conn:
        conn.execute("TRUNCATE scored_messages, scoring_stats, import_ledger, import_errors, import_forwards")
    sqs = aws.client("sqs")
    for url in (db.importer_queue_url, db.importer_dlq_url):  # PurgeQueue is allowed once a minute
        # WaitTimeSeconds=0: the importer queue long-polls for 20 s by default
        while messages := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
        ).get("Messages"):
            for m in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    yield db


def put(aws: AwsClients, settings: Settings, key: str, body: bytes) -> None:
    s3.put(aws.s3, settings.scored_bucket, key, body)


def drain(settings: Settings, visibility: int = 30) -> Any:
    return importer(AwsClients(settings), wait_seconds=1, visibility_timeout=visibility).run(once=True)


def query(settings: Settings, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.database_url or "") as conn:
        return conn.execute(sql, args).fetchall()


def queue_depth(aws: AwsClients, url: str) -> tuple[int, int]:
    attrs = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_happy_path_messages_stats_and_ledger(clean: Settings, aws: AwsClients) -> None:
    # GIVEN a scored file and a stats file land under scored/ (S3 -> SNS -> SQS on the moto server)
    put(
        aws,
        clean,
        "scored/date=2026-11-20/hour=08/messages/part 00000.avro",
        container_bytes(contracts.load(contracts.SCORED_MESSAGE), scored(2500, "happy")),
    )
    put(
        aws,
        clean,
        "scored/date=2026-11-20/hour=08/stats/stats.avro",
        container_bytes(contracts.load(contracts.SCORING_STATS), stats()),
    )
    # WHEN the importer drains the queue
    counts = drain(clean)
    # THEN every row is in PostgreSQL, the ledger says so, and the queue is empty
    assert (counts.imported, counts.records) == (2, 2502)
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(2500,)]
    assert query(clean, "SELECT count(*) FROM scoring_stats") == [(2,)]
    ledger = query(clean, "SELECT object_key, outcome, records FROM import_ledger ORDER BY object_key")
    assert ledger[0] == ("scored/date=2026-11-20/hour=08/messages/part 00000.avro", "imported", 2500)
    assert queue_depth(aws, clean.importer_queue_url) == (0, 0)
    row = query(
        clean,
        "SELECT reasons, sensor_schema_version, received_at FROM scored_messages WHERE message_id = %s",
        "<happy-1@x>",
    )
    assert row == [(["spf_fail"], 2, BASE - timedelta(seconds=1))]


def test_stats_written_before_the_histogram_still_import(clean: Settings, aws: AwsClients) -> None:
    # GIVEN an hour's stats written with ScoringStats before score_histogram, and one written now
    old_schema = json.loads((ROOT / "tests" / "vectors" / "scoring_stats_v1.avsc").read_text())
    old_row, new_row = stats()
    histogram = [5, 3] + [0] * 17 + [2]
    put(aws, clean, "scored/h/old/stats.avro", container_bytes(old_schema, [old_row]))
    put(
        aws,
        clean,
        "scored/h/new/stats.avro",
        container_bytes(contracts.load(contracts.SCORING_STATS), [{**new_row, "score_histogram": histogram}]),
    )
    # WHEN the importer takes both
    assert drain(clean).imported == 2
    # THEN the old one stored an empty histogram (the field's default), the new one its bins
    assert dict(query(clean, "SELECT enterprise_id, score_histogram FROM scoring_stats")) == {
        "acme": [],
        "globex": histogram,
    }


def test_duplicate_notification_changes_nothing(clean: Settings, aws: AwsClients) -> None:
    key = "scored/date=2026-11-20/hour=08/messages/part-dup.avro"
    put(aws, clean, key, container_bytes(contracts.load(contracts.SCORED_MESSAGE), scored(300, "dup")))
    sqs = aws.client("sqs")
    # the same notification delivered twice (SQS is at-least-once)
    (message,) = sqs.receive_message(QueueUrl=clean.importer_queue_url, WaitTimeSeconds=5)["Messages"]
    sqs.send_message(QueueUrl=clean.importer_queue_url, MessageBody=message["Body"])
    sqs.change_message_visibility(
        QueueUrl=clean.importer_queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    counts = drain(clean)
    assert (counts.imported, counts.duplicates) == (1, 1)
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(300,)]


def test_quarantine_and_label_verdicts_go_to_the_alerters_after_the_commit_even_after_a_crash(
    clean: Settings, aws: AwsClients
) -> None:
    key = "scored/date=2026-11-20/hour=08/messages/part-fwd.avro"
    rows = (
        scored(6, "fwd-q", verdict="QUARANTINE") + scored(4, "fwd-l", verdict="LABEL") + scored(20, "fwd-p")
    )
    before = len(on_stream(aws, clean.imported_stream_name))
    body = container_bytes(contracts.load(contracts.SCORED_MESSAGE), rows)
    # GIVEN a scored object with 10 actionable verdicts among 30
    put(aws, clean, key, body)
    # WHEN it is imported
    drain(clean)
    # THEN exactly its QUARANTINE and LABEL verdicts went on the imported stream, and the ledger says so
    forwarded = [m["message_id"] for m in on_stream(aws, clean.imported_stream_name)[before:]]
    assert sorted(forwarded) == sorted(r["message_id"] for r in rows if r["verdict"] != "PASS_THROUGH")
    # each keyed by its message's pair (enterprise, message id), as the stream importer keys its own
    keys = [r["PartitionKey"] for r in records(aws.client("kinesis"), clean.imported_stream_name)][before:]
    assert sorted(keys) == sorted(
        tenants.partition_key(r["enterprise_id"], r["message_id"])
        for r in rows
        if r["verdict"] != "PASS_THROUGH"
    )
    assert query(clean, "SELECT outcome, forwarded_at IS NOT NULL FROM import_ledger") == [("imported", True)]
    # WHEN the same notification comes again (SQS is at-least-once)
    put(aws, clean, key, body)  # the same bytes: the same version of the object
    counts = drain(clean)
    # THEN nothing is imported or forwarded again
    assert (counts.imported, counts.duplicates, counts.forwarded) == (0, 1, 0)
    assert len(on_stream(aws, clean.imported_stream_name)) == before + len(forwarded)
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(30,)]


def test_rescored_hour_with_newer_model_replaces_verdicts(clean: Settings, aws: AwsClients) -> None:
    key = "scored/date=2026-11-20/hour=08/messages/part-00000.avro"
    schema = contracts.load(contracts.SCORED_MESSAGE)
    put(aws, clean, key, container_bytes(schema, scored(200, "re", model="20261120T000000-a")))
    drain(clean)
    # a newer model rescored the hour: same key, new content
    later = BASE + timedelta(hours=1)
    put(
        aws,
        clean,
        key,
        container_bytes(
            schema, scored(200, "re", model="20261121T000000-b", scored_at=later, verdict="QUARANTINE")
        ),
    )
    # and an older model's late rerun must not win
    put(
        aws,
        clean,
        key.replace("00000", "00001"),
        container_bytes(
            schema, scored(200, "re", model="20261119T000000-z", scored_at=later + timedelta(hours=1))
        ),
    )
    drain(clean)
    assert query(clean, "SELECT count(*), min(model_version), min(verdict) FROM scored_messages") == [
        (200, "20261121T000000-b", "QUARANTINE")
    ]


def test_bad_input_is_set_aside_and_deleted_and_the_rest_proceeds(
    clean: Settings, aws: AwsClients, tmp_path: Path
) -> None:
    good = scored(100, "good")
    label = {
        "message_id": "m",
        "enterprise_id": "acme",
        "received_at": BASE,
        "is_malicious": True,
        "attack_type": None,
    }
    full = container_bytes(contracts.load(contracts.SCORED_MESSAGE), scored(5000, "trunc"), codec="null")
    put(aws, clean, "scored/p/not-avro.avro", b"<html>not avro</html>")
    put(aws, clean, "scored/p/truncated.avro", full[: len(full) - 700])
    put(
        aws,
        clean,
        "scored/p/unknown-schema.avro",
        container_bytes(contracts.load(contracts.GROUND_TRUTH_LABEL), [label]),
    )
    put(aws, clean, "scored/p/good.avro", container_bytes(contracts.load(contracts.SCORED_MESSAGE), good))
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=clean.importer_queue_url, MessageBody="{this is not json")
    missing = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": clean.scored_bucket},
                    "object": {"key": "scored/p/gone.avro", "eTag": "abc", "size": 1},
                },
            }
        ]
    }
    sqs.send_message(
        QueueUrl=clean.importer_queue_url,
        MessageBody=json.dumps({"Type": "Notification", "Message": json.dumps(missing)}),
    )
    sqs.send_message(
        QueueUrl=clean.importer_queue_url,
        MessageBody=json.dumps({"Type": "Notification", "Message": json.dumps({"Event": "s3:TestEvent"})}),
    )
    worker = importer(AwsClients(clean), wait_seconds=1)
    worker.metrics = WorkerMetrics("importer", tmp_path / "importer-metrics.log")
    counts = worker.run(once=True)
    assert counts.imported == 1 and counts.set_aside == 5
    errors = dict(query(clean, "SELECT object_key, error_type FROM import_errors"))
    assert errors == {
        "scored/p/not-avro.avro": "BadMagicByteError",
        "scored/p/truncated.avro": "TruncatedRecordError",
        "scored/p/unknown-schema.avro": "SchemaMismatchError",
        "scored/p/gone.avro": "MissingObject",
        "": "MalformedEventError",
    }
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(100,)]  # never half-imported
    assert queue_depth(aws, clean.importer_queue_url) == (0, 0)
    # and the importer's metrics (it counts objects: 1 imported, 5 set aside) put its error rate
    # over the paging alarm's threshold, computed with the alarm's own math, as CloudWatch would a
    # minute later (in two datapoints if the minute turned during the drain)
    alarm = describe(aws.client("cloudwatch"), "trustpipe-local-importer-error-rate")
    fetch = emf_fetch([worker.metrics.path])
    later = datetime.now(UTC) + timedelta(minutes=1)
    evaluation = evaluate(alarm, fetch, later)
    assert evaluation.crossed and min(evaluation.crossed) > alarm["Threshold"]
    window = (later - timedelta(minutes=5), later)
    totals = [
        sum(fetch(Query(WORKERS, m, {"Service": "importer"}, "Sum", 60, *window)).values())
        for m in ("Errors", "Processed")
    ]
    assert totals == [5, 1]
    if len(evaluation.crossed) == 1:
        assert evaluation.crossed[0] == pytest.approx(5 / 6)


def drain_pooled(settings: Settings) -> Any:
    """Drain the queue with an importer whose decode workers take every object, however small."""
    worker = importer(AwsClients(settings), wait_seconds=1, visibility_timeout=30)
    worker.decode = pool = DecodePool(2, min_bytes=0)
    try:
        return worker.run(once=True)
    finally:
        pool.close()


def test_decode_workers_import_what_the_importer_would(clean: Settings, aws: AwsClients) -> None:
    # GIVEN an object of 12,001 rows in several block groups, 24 of them actionable (few: the
    # alerters of later tests resume the imported stream from their checkpoint), one message
    # twice (its newer verdict in a later group) and one of them already stored, newer
    rows = [
        {**r, "verdict": {1: "QUARANTINE", 2: "LABEL"}.get(i % 1000, "PASS_THROUGH")}
        for i, r in enumerate(scored(12_000, "par"))
    ]
    rows.append({**rows[0], "model_version": "20261121T000000-b", "score": 0.99})
    put(
        aws,
        clean,
        "scored/par/old.avro",
        container_bytes(
            contracts.load(contracts.SCORED_MESSAGE),
            [{**rows[5], "model_version": "20261122T000000-c", "score": 0.42}],
        ),
    )
    drain(clean)
    before = len(on_stream(aws, clean.imported_stream_name))
    put(aws, clean, "scored/par/big.avro", container_bytes(contracts.load(contracts.SCORED_MESSAGE), rows))
    # WHEN an importer with decode workers drains the queue
    counts = drain_pooled(clean)
    # THEN every row is stored as an in-process import stores it: the newest verdict of each message
    assert (counts.imported, counts.records) == (1, 12_001)
    expected = {r["message_id"]: (r["model_version"], r["score"], r["verdict"], r["reasons"]) for r in rows}
    expected[rows[5]["message_id"]] = ("20261122T000000-c", 0.42, rows[5]["verdict"], rows[5]["reasons"])
    stored = query(clean, "SELECT message_id, model_version, score, verdict, reasons FROM scored_messages")
    assert {m: tuple(v) for m, *v in stored} == expected
    assert query(clean, "SELECT min(received_at), max(received_at) FROM scored_messages") == [
        (min(r["received_at"] for r in rows), BASE)
    ]
    # AND each QUARANTINE/LABEL verdict of the object went to the alerters once
    forwarded = [m["message_id"] for m in on_stream(aws, clean.imported_stream_name)[before:]]
    assert sorted(forwarded) == sorted(r["message_id"] for r in rows if r["verdict"] != "PASS_THROUGH")


def test_decode_workers_set_bad_objects_aside_whole(clean: Settings, aws: AwsClients) -> None:
    body = container_bytes(contracts.load(contracts.SCORED_MESSAGE), scored(12_000, "bad"))
    put(aws, clean, "scored/bad/truncated.avro", body[: len(body) * 2 // 3])
    marker = body.index(body[-16:], len(body) // 2)  # a sync marker (every block ends with one)
    put(aws, clean, "scored/bad/corrupt.avro", body[:marker] + bytes(16) + body[marker + 16 :])
    put(
        aws,
        clean,
        "scored/bad/good.avro",
        container_bytes(contracts.load(contracts.SCORED_MESSAGE), scored(7_000, "ok")),
    )
    counts = drain_pooled(clean)
    assert (counts.imported, counts.set_aside) == (1, 2)
    assert dict(query(clean, "SELECT object_key, error_type FROM import_errors")) == {
        "scored/bad/truncated.avro": "TruncatedRecordError",
        "scored/bad/corrupt.avro": "SchemaMismatchError",
    }
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(7_000,)]


def test_database_down_is_retried_then_imported(
    clean: Settings, aws: AwsClients, local_stack: LocalStack
) -> None:
    put(
        aws,
        clean,
        "scored/r/restart.avro",
        container_bytes(contracts.load(contracts.SCORED_MESSAGE), scored(50, "rs")),
    )
    port = int(local_stack.postgres.port_file.read_text())
    # GIVEN PostgreSQL is down when the notification arrives
    local_stack.postgres.stop()
    try:
        counts = drain(clean)
        # THEN the message is kept (hidden for a backoff), not deleted and not set aside
        assert (counts.imported, counts.set_aside, counts.retried) == (0, 0, 1)
        assert queue_depth(aws, clean.importer_queue_url) == (0, 1)
    finally:
        local_stack.postgres.start(port=port)
    # WHEN it is back and the message visible again
    sqs = aws.client("sqs")
    time.sleep(0.5)
    _make_visible(aws, clean)
    counts = drain(clean)
    # THEN it is imported exactly once
    assert counts.imported == 1
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(50,)]
    del sqs


def test_an_object_that_never_imports_is_dead_lettered_and_the_dlq_alarm_sees_it(
    clean: Settings, aws: AwsClients, local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = container_bytes(contracts.load(contracts.SCORED_MESSAGE), scored(5, "dl"))
    put(aws, clean, "scored/d/never.avro", body)
    monkeypatch.setattr(announcement_queue, "retry_delay", lambda receives, jitter=None: 0)  # no backoff
    port = int(local_stack.postgres.port_file.read_text())
    # GIVEN PostgreSQL is down for every delivery SQS makes (maxReceiveCount is 3 locally)
    local_stack.postgres.stop()
    try:
        counts = drain(clean)  # one drain: each failure makes it visible again at once
        assert (counts.retried, counts.imported, counts.set_aside) == (3, 0, 0)
    finally:
        local_stack.postgres.start(port=port)
    # THEN SQS moved it to the dead-letter queue at its fourth receive
    assert queue_depth(aws, clean.importer_dlq_url) == (1, 0)
    assert queue_depth(aws, clean.importer_queue_url) == (0, 0)
    # AND the depth SQS publishes (on the local stack, the moto server publishes it as SQS does)
    # crosses the importer-dlq alarm's threshold, read with the alarm's own metric and statistic
    fetch = cloudwatch_fetch(aws.client("cloudwatch"))
    dlq_alarm = describe(aws.client("cloudwatch"), "trustpipe-local-importer-dlq")
    assert dimensions(dlq_alarm) == {"QueueName": clean.importer_dlq_url.rsplit("/", 1)[1]}
    wait_for(
        "a published datapoint over the importer-dlq threshold",
        lambda: any(v > dlq_alarm["Threshold"] for v in published(dlq_alarm, fetch)),
        timeout=3 * aws_metrics.DEFAULT_INTERVAL_SECONDS,
    )
    # and a minute later that minute counts as breaching: one of the 3 in 5 the alarm needs (the
    # rule itself, over minutes, is tested with a moving clock in the unit tests)
    evaluation = evaluate(dlq_alarm, fetch, datetime.now(UTC) + timedelta(minutes=1))
    assert evaluation.crossed and evaluation.crossed[-1] == 1.0
    # and the importer queue's oldest-message age, which its age alarm reads, is published too
    age_alarm = describe(aws.client("cloudwatch"), "trustpipe-local-importer-queue-age")
    assert dimensions(age_alarm) == {"QueueName": clean.importer_queue_url.rsplit("/", 1)[1]}
    assert published(age_alarm, fetch)
    # WHEN the on-call moves it back (runbook importer-dlq) with the database up again
    out = subprocess.run(
        [*CLI, "importer", "redrive", "--state-dir", str(local_stack.state_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "moved 1 messages from the importer DLQ back to the importer queue" in out
    # THEN it is imported once, and the DLQ is empty
    assert drain(clean).imported == 1
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(5,)]
    assert queue_depth(aws, clean.importer_dlq_url) == (0, 0)


def published(alarm: dict[str, Any], fetch: Any) -> list[float]:
    """The alarm's metric, statistic and period over the last two minutes and this one."""
    now = datetime.now(UTC)
    return list(fetch(metric_query(alarm, now - timedelta(minutes=2), now + timedelta(minutes=1))).values())


def _make_visible(aws: AwsClients, settings: Settings) -> None:
    sqs = aws.client("sqs")
    for _ in range(3):
        got = sqs.receive_message(
            QueueUrl=settings.importer_queue_url, VisibilityTimeout=0, WaitTimeSeconds=1
        )
        if got.get("Messages"):
            return
        time.sleep(3)


def _importer_process(local_stack: LocalStack, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "importer", "run", "--state-dir", str(local_stack.state_dir), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _wait_started(proc: subprocess.Popen[str], timeout: float = 60) -> None:
    """Until the importer process says it began importing an object (SQS counting the message in
    flight is not enough: a worker stopped between receiving and starting releases it)."""
    import threading

    started = threading.Event()

    def watch() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # read to the end, so the pipe never fills
            if "importing s3://" in line:
                started.set()

    threading.Thread(target=watch, daemon=True).start()
    assert started.wait(timeout), "the importer never began an import"


def _wait_in_flight(aws: AwsClients, settings: Settings, timeout: float = 60) -> None:
    wait_for(
        "the importer to take the message",
        lambda: queue_depth(aws, settings.importer_queue_url)[1] > 0,
        timeout,
        every=0.1,
    )


BIG = 150_000


@pytest.fixture(scope="module")
def big_file() -> bytes:
    return container_bytes(contracts.load(contracts.SCORED_MESSAGE), scored(BIG, "big"))


def _children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("decode_processes", ["1", "2"])
def test_sigkill_mid_import_leaves_nothing_and_the_message_returns(
    clean: Settings, aws: AwsClients, local_stack: LocalStack, big_file: bytes, decode_processes: str
) -> None:
    put(aws, clean, "scored/k/big.avro", big_file)
    proc = _importer_process(local_stack, "--visibility-timeout", "4", "--decode-processes", decode_processes)
    try:
        _wait_in_flight(aws, clean)
        if decode_processes == "1":
            time.sleep(1.0)  # mid-COPY
        else:  # the decode workers (and multiprocessing's resource tracker) started: mid-decode
            wait_for("the decode workers", lambda: len(_children(proc.pid)) >= 3, 30, every=0.05)
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    # nothing committed, and the message comes back once its visibility lapses
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(0,)]
    if decode_processes == "2":  # and no decode worker outlives its importer
        assert len(workers) >= 3
        wait_for("every decode worker gone", lambda: not any(_alive(w) for w in workers), 10, every=0.2)
    wait_for("the message back and imported", lambda: drain(clean).imported, 30)
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(BIG,)]


def test_sigterm_finishes_the_import_and_exits_zero(
    clean: Settings, aws: AwsClients, local_stack: LocalStack, big_file: bytes, tmp_path: Path
) -> None:
    put(aws, clean, "scored/t/big.avro", big_file)
    proc = _importer_process(local_stack, "--work-dir", str(tmp_path))
    _wait_started(proc)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    stopped = datetime.now(UTC)
    assert proc.returncode == 0
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(BIG,)]
    assert queue_depth(aws, clean.importer_queue_url) == (0, 0)
    # and while it ran, its heartbeats kept the silence alarm's datapoint above threshold; once
    # it stopped, the silence (missing data, counted as breaching) pages
    alarm = describe(aws.client("cloudwatch"), "trustpipe-local-importer-silent")
    fetch = emf_fetch([tmp_path / "importer-metrics.log"])
    running = evaluate(alarm, fetch, stopped + timedelta(minutes=1))
    assert [v for _, v in running.datapoints if v is not None] and not running.crossed
    assert evaluate(alarm, fetch, stopped + timedelta(minutes=6)).state == "ALARM"


@pytest.mark.parametrize("drainer", ["in_process", "decode_workers"])
def test_a_row_postgresql_refuses_costs_that_row_alone(
    clean: Settings, aws: AwsClients, drainer: str
) -> None:
    # GIVEN a part whose row 7 holds a NUL (text refuses it) and whose row 700 has a message id
    # too long for the store's key index, among actionable verdicts
    rows = scored(1000, "nul", verdict="QUARANTINE")
    rows[7] = {**rows[7], "from_display_name": "Evil\x00Corp"}
    rows[700] = {**rows[700], "message_id": secrets.token_urlsafe(8000)}
    key = "scored/date=2026-11-20/hour=08/messages/part-nul.avro"
    put(aws, clean, key, container_bytes(contracts.load(contracts.SCORED_MESSAGE), rows))
    before = len(on_stream(aws, clean.imported_stream_name))
    # WHEN the importer drains the queue
    counts = drain(clean) if drainer == "in_process" else drain_pooled(clean)
    # THEN the part is imported but for those two rows, each set aside with its position and reason
    assert (counts.imported, counts.set_aside, counts.rows_refused) == (1, 0, 2)
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(998,)]
    errors = query(
        clean, "SELECT object_key, row_position, error_type, reason FROM import_errors ORDER BY row_position"
    )
    assert [(k, p, t) for k, p, t, _ in errors] == [
        (key, 7, "CharacterNotInRepertoire"),
        (key, 700, "ProgramLimitExceeded"),
    ]
    assert errors[0][3].startswith("row 7 refused by PostgreSQL: ")
    # AND the object is done, the stored rows' verdicts forwarded once, the message deleted
    assert query(clean, "SELECT outcome, records FROM import_ledger") == [("imported", 1000)]
    forwarded = [m["message_id"] for m in on_stream(aws, clean.imported_stream_name)[before:]]
    assert sorted(forwarded) == sorted(r["message_id"] for n, r in enumerate(rows) if n not in (7, 700))
    assert queue_depth(aws, clean.importer_queue_url) == (0, 0)


def test_only_verdicts_the_store_kept_are_forwarded(clean: Settings, aws: AwsClients) -> None:
    schema = contracts.load(contracts.SCORED_MESSAGE)
    # GIVEN 10 messages stored with a verdict of a later-promoted model
    newer = [{**r, "model_promotion": 5} for r in scored(10, "kept")]
    put(aws, clean, "scored/kept/newer.avro", container_bytes(schema, newer))
    drain(clean)
    before = len(on_stream(aws, clean.imported_stream_name))
    # WHEN an object of an earlier promotion quarantines them and 3 messages more
    older = [{**r, "model_promotion": 4} for r in scored(13, "kept", verdict="QUARANTINE")]
    put(aws, clean, "scored/kept/older.avro", container_bytes(schema, older))
    drain(clean)
    # THEN the stored verdicts stay, and only the 3 it stored go to the alerters
    assert query(clean, "SELECT verdict, count(*) FROM scored_messages GROUP BY 1 ORDER BY 1") == [
        ("PASS_THROUGH", 10),
        ("QUARANTINE", 3),
    ]
    forwarded = [m["message_id"] for m in on_stream(aws, clean.imported_stream_name)[before:]]
    assert sorted(forwarded) == sorted(r["message_id"] for r in older[10:])


class Refused(Exception):
    """A forward refused for a reason of its own (neither the input's nor the world's)."""


def test_a_forward_refused_after_the_commit_is_kept_and_forwarded_by_the_redelivery(
    clean: Settings, aws: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(announcement_queue, "retry_delay", lambda receives, jitter=None: 0)  # no backoff
    key = "scored/date=2026-11-20/hour=08/messages/part-refused.avro"
    rows = scored(8, "ref-q", verdict="QUARANTINE") + scored(12, "ref-p")
    put(aws, clean, key, container_bytes(contracts.load(contracts.SCORED_MESSAGE), rows))
    before = len(on_stream(aws, clean.imported_stream_name))
    # GIVEN the imported stream refuses the object's verdicts once its rows are committed
    worker = importer(AwsClients(clean), wait_seconds=1, visibility_timeout=30)
    working = worker.forward
    assert working is not None

    def refuse(verdicts: list[dict[str, Any]]) -> None:
        raise Refused(f"{len(verdicts)} verdicts refused")

    worker.forward = refuse
    # WHEN the importer takes it (one receive: the message stays hidden for its backoff)
    worker.sqs = _one_receive(worker.sqs)
    counts = worker.run(once=True)
    # THEN the rows are stored, the verdicts kept for the alerters, the object not done
    assert (counts.imported, counts.retried) == (0, 1)
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(20,)]
    assert query(clean, "SELECT outcome FROM import_ledger") == [("stored",)]
    assert query(clean, "SELECT count(*) FROM import_forwards") == [(8,)]
    assert query(clean, IMPORTED_SQL.replace("%(keys)s", "%s"), [key]) == []  # wait_for_import waits
    assert len(on_stream(aws, clean.imported_stream_name)) == before
    # WHEN the message comes back to an importer whose forward works
    worker.forward, worker.sqs = working, aws.client("sqs")
    counts = worker.run(once=True)
    # THEN the 8 verdicts go to the alerters once, and only now is the object imported
    assert (counts.duplicates, counts.forwarded) == (1, 8)
    forwarded = [m["message_id"] for m in on_stream(aws, clean.imported_stream_name)[before:]]
    assert sorted(forwarded) == sorted(r["message_id"] for r in rows[:8])
    assert query(clean, "SELECT outcome FROM import_ledger") == [("imported",)]
    assert query(clean, "SELECT count(*) FROM import_forwards") == [(0,)]
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(20,)]
    assert queue_depth(aws, clean.importer_queue_url) == (0, 0)


def _one_receive(sqs: Any) -> Any:
    """``sqs`` whose receive_message answers once, then as an empty queue."""
    calls = [0]

    class Once:
        def __getattr__(self, name: str) -> Any:
            return getattr(sqs, name)

        def receive_message(self, **kwargs: Any) -> Any:
            calls[0] += 1
            return sqs.receive_message(**kwargs) if calls[0] == 1 else {"Messages": []}

    return Once()


def test_two_importers_given_one_object_at_once_import_and_forward_it_once(
    clean: Settings, aws: AwsClients
) -> None:
    # GIVEN one object and two importers handed its notification at the same moment
    key = "scored/date=2026-11-20/hour=08/messages/part-twice.avro"
    rows = scored(3000, "twice-q", verdict="QUARANTINE")
    put(aws, clean, key, container_bytes(contracts.load(contracts.SCORED_MESSAGE), rows))
    etag = aws.s3.head_object(Bucket=clean.scored_bucket, Key=key)["ETag"].strip('"')
    event = ObjectCreated(clean.scored_bucket, key, etag, 0)
    forwarded: list[dict[str, Any]] = []
    start = threading.Barrier(2)

    def run() -> Outcome:
        start.wait()
        connect = lambda: psycopg.connect(clean.database_url or "")  # noqa: E731
        return import_object(connect, aws.s3, event, forwarded.extend)

    # WHEN both import it
    with ThreadPoolExecutor(2) as pool:
        outcomes = [f.result() for f in [pool.submit(run), pool.submit(run)]]
    # THEN one imported it, the other found it done; its verdicts went out once
    assert sorted(o.outcome for o in outcomes) == ["duplicate", "imported"]
    assert len(forwarded) == 3000
    assert query(clean, "SELECT count(*) FROM scored_messages") == [(3000,)]
    assert query(clean, "SELECT outcome FROM import_ledger") == [("imported",)]


def test_a_backfill_with_a_rolled_back_model_replaces_the_regressed_verdicts(
    clean: Settings, aws: AwsClients
) -> None:
    bucket, schema = clean.archive_bucket, contracts.load(contracts.SCORED_MESSAGE)
    versions = ("20261118T000000-good", "20261119T000000-bad")
    good, regressed = (dataclasses.replace(model_artifact(), version=v) for v in versions)
    for model in (good, regressed):
        model_store.save(aws.s3, bucket, model, make_current=True)
    # GIVEN the regressed model (promoted after the good one) labelled an hour's messages
    current = model_store.load(aws.s3, bucket)
    assert current.version == regressed.version
    key = "scored/date=2026-11-20/hour=08/messages/part-00000.avro"

    def scored_by(model: Any, verdict: str, at: datetime) -> bytes:
        rows = scored(30, "rb", model=model.version, scored_at=at, verdict=verdict)
        return container_bytes(schema, [{**r, "model_promotion": model.promotion} for r in rows])

    put(aws, clean, key, scored_by(current, "LABEL", BASE))
    drain(clean)
    before = len(on_stream(aws, clean.imported_stream_name))
    # WHEN the on-call rolls back (the good model promoted again) and the hour is re-scored with it
    # (the good model's version sorts before the regressed one's, and its verdicts are older)
    number = model_store.promote(aws.s3, bucket, model_store.load(aws.s3, bucket, good.version))
    rolled_back = model_store.load(aws.s3, bucket)
    assert (rolled_back.version, rolled_back.promotion) == (good.version, number)
    assert number > current.promotion
    put(aws, clean, key, scored_by(rolled_back, "QUARANTINE", BASE - timedelta(days=1)))
    drain(clean)
    # THEN the rolled-back model's verdicts replace the regressed ones, and go to the alerters
    stored = "SELECT model_version, model_promotion, verdict, count(*) FROM scored_messages GROUP BY 1, 2, 3"
    assert query(clean, stored) == [(good.version, number, "QUARANTINE", 30)]
    forwarded = on_stream(aws, clean.imported_stream_name)[before:]
    assert {(f["model_version"], f["verdict"]) for f in forwarded} == {(good.version, "QUARANTINE")}
    assert len(forwarded) == 30
    # AND a late re-run of the regressed model's output no longer wins
    late = scored_by(current, "PASS_THROUGH", BASE + timedelta(days=1))
    put(aws, clean, key.replace("00000", "00001"), late)
    drain(clean)
    assert query(clean, "SELECT DISTINCT model_version, verdict FROM scored_messages") == [
        (good.version, "QUARANTINE")
    ]
