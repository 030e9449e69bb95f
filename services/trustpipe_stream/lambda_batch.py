"""A stream worker as a Lambda function on a Kinesis event source mapping: the same worker the KCL
processor runs, driven by Powertools' batch processing with partial batch responses.

Lambda hands the function one shard's batch (the event's ``Records``, each with its data in
base64) and, with ``ReportBatchItemFailures``, resumes the shard at the lowest sequence number
the answer's ``batchItemFailures`` names: every record from there on is delivered again. So:

- The batch goes through ``batch.isolate`` as on the KCL path: records the worker ``Rejected``,
  and a record whose own error fails the batch (found by halving), are set aside with one reason
  each and count as handled; the shard moves on.
- A transient failure (``trustpipe.transient``) is retried here a few times with capped, jittered
  backoff (the function's timeout bounds the wait, where a KCL processor waits indefinitely);
  if it outlasts them, the first record not done and every record after it are reported failed.
  Lambda delivers them again (its retries, the mapping's ``MaximumRetryAttempts`` and
  ``MaximumRecordAgeInSeconds`` bound how often), and the workers' side effects are idempotent
  (upserts keyed by (enterprise, message id), the alerter's ledger, set-aside objects keyed by
  position), so what was done before the failure and is done again changes nothing.
- A set-aside that cannot be written reports its records (and those after them) failed too: a
  rejected record is acknowledged only once it is on the error path.
- A batch whose every record failed fails the invocation (Powertools' rule), which lets the
  mapping's ``BisectBatchOnFunctionError`` split it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe.transient import is_transient
from trustpipe_stream.batch import (
    Interrupted,
    Rejected,
    StreamRecord,
    StreamWorker,
    isolate,
    reason_of,
    with_retries,
)

log = logging.getLogger("trustpipe.stream")
SETTINGS_ENV = "TRUSTPIPE_SETTINGS"
"""Where the function's settings are: a path in the package or ``s3://bucket/key``."""
TRANSIENT_ATTEMPTS = 3
"""Attempts of a batch that fails transiently before its rest is handed back to Lambda: with the
backoff's 0.5 s base that is about 1.5 s, well inside any sensible function timeout."""

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class FailedRecord(Exception):
    """A record handed back to Lambda for redelivery, with why."""


@dataclass(frozen=True)
class Settled:
    """What became of a batch: the records handed back to Lambda (sequence number -> why)."""

    failed: dict[str, str]
    rejected: list[Rejected]


def stream_record(r: KinesisStreamRecord) -> StreamRecord | Rejected:
    """The event record as the worker sees it; a record whose data is not base64 (never from
    Kinesis, but an event is input like any other) is rejected with that reason."""
    k = r.raw_event.get("kinesis") or {}
    shard = str(r.raw_event.get("eventID", "")).partition(":")[0]
    arrived_ms = int(float(k.get("approximateArrivalTimestamp") or 0) * 1000)
    raw = str(k.get("data", ""))
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        data = None
    record = StreamRecord(
        data=data if data is not None else raw.encode("utf-8", "backslashreplace"),
        partition_key=str(k.get("partitionKey", "")),
        sequence_number=str(k.get("sequenceNumber", "")),
        sub_sequence_number=0,
        arrived_ms=arrived_ms,
        shard_id=shard,
    )
    if data is None:
        return Rejected(record, "UndecodableEventRecord: the record's data is not base64")
    return record


def settle(
    worker: StreamWorker,
    records: Sequence[StreamRecord | Rejected],
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = TRANSIENT_ATTEMPTS,
) -> Settled:
    """Run the batch through ``worker`` as the KCL processor does, with bounded retries; which
    records go back to Lambda."""
    order = [x.record if isinstance(x, Rejected) else x for x in records]
    position = {r.sequence_number: n for n, r in enumerate(order)}
    unreadable = [x for x in records if isinstance(x, Rejected)]
    readable = [x for x in records if isinstance(x, StreamRecord)]

    def warn(failures: int, err: Exception, delay: float) -> None:
        log.warning("attempt %d failed (%s); retrying in %.1fs", failures, reason_of(err), delay)

    def attempt(part: Sequence[StreamRecord]) -> Sequence[Rejected]:
        return with_retries(lambda: worker.process(part), sleep, warn, attempts=attempts, retry=is_transient)

    stop: Interrupted | None = None
    try:
        rejected = unreadable + (isolate(readable, attempt) if readable else [])
    except Interrupted as err:
        stop, rejected = err, unreadable + err.rejected
    failed_from = position[stop.at.sequence_number] if stop else len(order)
    why = reason_of(stop.cause) if stop else ""
    done = sorted(
        (x for x in rejected if position[x.record.sequence_number] < failed_from),
        key=lambda x: position[x.record.sequence_number],
    )
    if done:
        try:
            with_retries(
                lambda: worker.set_aside(done[0].record.shard_id, done), sleep, warn, attempts=attempts
            )
        except Exception as err:
            failed_from = position[done[0].record.sequence_number]
            why = f"set-aside failed: {reason_of(err)}"
            done = []
    return Settled({r.sequence_number: why for r in order[failed_from:]}, done)


def handle(
    worker: StreamWorker, event: dict[str, Any], context: Any, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """One invocation: the batch settled, the answer Powertools' partial batch response."""
    check_event(event)
    records = [stream_record(KinesisStreamRecord(r)) for r in event["Records"]]
    settled = settle(worker, records, sleep)

    def record_handler(record: KinesisStreamRecord) -> None:
        if (why := settled.failed.get(record.kinesis.sequence_number)) is not None:
            raise FailedRecord(why)

    log.info(
        "batch of %d: %d set aside, %d handed back",
        len(records),
        len(settled.rejected),
        len(settled.failed),
    )
    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    answer = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(answer)


def check_event(event: Any) -> None:
    """ValueError with the reason unless ``event`` is a batch of Kinesis records, each with the
    sequence number it would be reported and resumed by."""
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        raise ValueError("not a Kinesis event: it has no Records list")
    for n, r in enumerate(event["Records"]):
        k = r.get("kinesis") if isinstance(r, dict) else None
        if not isinstance(k, dict) or not isinstance(k.get("sequenceNumber"), str):
            # nothing to report it by, nothing to resume at: the whole batch goes back to Lambda
            raise ValueError(f"not a Kinesis event: record {n} has no kinesis.sequenceNumber")


def handler_for(build: Callable[[AwsClients], StreamWorker]) -> Handler:
    """The function's entry point: the worker built on the first invocation from the settings
    ``$TRUSTPIPE_SETTINGS`` names ($DATABASE_URL, when set, is the database), kept while warm."""
    built: list[StreamWorker] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        check_event(event)  # a malformed event is refused before anything is built or called
        if not built:
            logging.getLogger("trustpipe").setLevel(logging.INFO)
            settings = Settings.load_uri(os.environ[SETTINGS_ENV])
            built.append(build(AwsClients(settings.with_database_url(os.environ.get("DATABASE_URL")))))
        return handle(built[0], event, context)

    return handler
