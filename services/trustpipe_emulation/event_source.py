"""Lambda's Kinesis event source mapping, emulated: each shard of a (moto) stream read with
GetShardIterator/GetRecords, its records handed to a function in batches, and the mapping's
settings applied as the Lambda Developer Guide documents them (each rule below quotes it; the
unit tests hold the rules, one test per quoted sentence):

- **BatchSize, MaximumBatchingWindowInSeconds**: "Lambda reads records in batches and invokes
  your function to process records from the batch. Each batch contains records from a single
  shard/data stream." The function is invoked once the batch is full, the batching window has
  passed, or the payload reaches 6 MB.
- **ReportBatchItemFailures**: "If the batchItemFailures array contains multiple items, Lambda
  uses the record with the lowest sequence number as the checkpoint. Lambda then retries all
  records starting from that checkpoint." An empty or null list is complete success; "an empty
  string itemIdentifier, a null itemIdentifier, an itemIdentifier with a bad key name" is
  complete failure. Without the setting the response is not read.
- **BisectBatchOnFunctionError**: "splits a failed batch into two smaller batches, isolating bad
  records and avoiding timeouts. Splitting batches doesn't consume the retry quota." With partial
  responses too, "the batch is bisected at the returned sequence number and Lambda retries only
  the remaining records."
- **MaximumRetryAttempts, MaximumRecordAgeInSeconds**: "If the function is invoked but returns an
  error, Lambda retries until the records expire, exceed the maximum age, or reach the configured
  retry quota." -1 is infinite. "If the error handling measures fail, Lambda discards the records
  and continues processing batches from the stream."
- **On-failure destination (S3)**: a discarded batch is kept as an invocation record
  (``requestContext``, ``responseContext``, ``version``, ``timestamp``, ``KinesisBatchInfo``);
  "For Amazon S3 destinations, Lambda also sends the entire invocation record along with the
  metadata" (``payload``: the event, as a JSON string).
- **Checkpoint per shard**: the sequence number up to which the shard is done, kept in a file, so
  a restarted poller resumes after it (AFTER_SEQUENCE_NUMBER), as the mapping resumes after its
  checkpoint.

Not emulated: ParallelizationFactor above 1 (one batch per shard at a time), tumbling windows,
filters, enhanced fan-out, and the order of parent and child shards after a reshard (a child
found by ListShards is read from its start at once).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustpipe_emulation.lambda_runtime import Answer

log = logging.getLogger("trustpipe.emulation.event_source")

MAX_BATCH_SIZE = 10_000
"""CreateEventSourceMapping's BatchSize for Kinesis: 1 to 10,000."""
MAX_BATCHING_WINDOW_SECONDS = 300
"""MaximumBatchingWindowInSeconds: 0 to 300."""
MAX_RETRY_ATTEMPTS = 10_000
"""MaximumRetryAttempts: -1 (infinite) to 10,000."""
MIN_RECORD_AGE_SECONDS, MAX_RECORD_AGE_SECONDS = 60, 604_800
"""MaximumRecordAgeInSeconds: -1 (infinite), or 60 to 604,800."""
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""A synchronous invocation's request payload quota: 6 MB."""
POLL_SECONDS = 1.0
"""Standard iterators: "Lambda polls each shard in your Kinesis stream for records at a base rate
of once per second."."""
RETRY_PAUSE_SECONDS = 1.0
"""Between a failed invocation and its retry (Lambda does not document its pause)."""
GET_RECORDS_LIMIT = 10_000
"""GetRecords' Limit: at most 10,000 records a call."""


class MappingError(ValueError):
    """An event source mapping setting CreateEventSourceMapping would refuse."""


@dataclass(frozen=True)
class Mapping:
    """An event source mapping's settings, by CreateEventSourceMapping's names."""

    batch_size: int = 100
    maximum_batching_window_seconds: float = 0
    bisect_batch_on_function_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_seconds: int = -1
    report_batch_item_failures: bool = True
    on_failure_bucket: str | None = None
    starting_position: str = "TRIM_HORIZON"
    starting_timestamp: float | None = None
    """With AT_TIMESTAMP: epoch seconds a shard without a checkpoint is read from."""
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise MappingError(f"BatchSize must be 1 to {MAX_BATCH_SIZE}, not {self.batch_size}")
        if not 0 <= self.maximum_batching_window_seconds <= MAX_BATCHING_WINDOW_SECONDS:
            raise MappingError(
                f"MaximumBatchingWindowInSeconds must be 0 to {MAX_BATCHING_WINDOW_SECONDS}, "
                f"not {self.maximum_batching_window_seconds}"
            )
        if not -1 <= self.maximum_retry_attempts <= MAX_RETRY_ATTEMPTS:
            raise MappingError(
                f"MaximumRetryAttempts must be -1 to {MAX_RETRY_ATTEMPTS}, not {self.maximum_retry_attempts}"
            )
        age = self.maximum_record_age_seconds
        if age != -1 and not MIN_RECORD_AGE_SECONDS <= age <= MAX_RECORD_AGE_SECONDS:
            raise MappingError(
                f"MaximumRecordAgeInSeconds must be -1 or {MIN_RECORD_AGE_SECONDS} to "
                f"{MAX_RECORD_AGE_SECONDS}, not {age}"
            )
        if self.starting_position not in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"):
            raise MappingError(
                f"StartingPosition must be AT_TIMESTAMP, TRIM_HORIZON or LATEST, not {self.starting_position}"
            )
        if (self.starting_position == "AT_TIMESTAMP") != (self.starting_timestamp is not None):
            raise MappingError("StartingPositionTimestamp is given with AT_TIMESTAMP, and only with it")


@dataclass(frozen=True)
class StreamRecord:
    """A record as GetRecords returns it (the fields Lambda's event carries)."""

    sequence_number: str
    partition_key: str
    data: bytes
    arrived: float
    """ApproximateArrivalTimestamp, epoch seconds."""

    @classmethod
    def from_get_records(cls, r: dict[str, Any]) -> StreamRecord:
        arrived = r["ApproximateArrivalTimestamp"]
        return cls(
            r["SequenceNumber"],
            r["PartitionKey"],
            bytes(r["Data"]),
            arrived.timestamp() if isinstance(arrived, datetime) else float(arrived),
        )


@dataclass(frozen=True)
class Source:
    """Where the records come from, as the event names it."""

    stream_arn: str
    shard_id: str
    region: str = "us-east-1"
    role_arn: str = "arn:aws:iam::123456789012:role/stream-stage"


def event(records: Sequence[StreamRecord], source: Source) -> dict[str, Any]:
    """Lambda's Kinesis event for ``records`` of one shard."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key,
                    "sequenceNumber": r.sequence_number,
                    "data": base64.b64encode(r.data).decode(),
                    "approximateArrivalTimestamp": r.arrived,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{source.shard_id}:{r.sequence_number}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": source.role_arn,
                "awsRegion": source.region,
                "eventSourceARN": source.stream_arn,
            }
            for r in records
        ]
    }


def _event_bytes(r: StreamRecord) -> int:
    """About what the record adds to the event: base64 data plus its envelope."""
    return 4 * ((len(r.data) + 2) // 3) + 600


def failed_from(answer: Answer, batch: Sequence[StreamRecord]) -> int | None:
    """Where a successful partial batch response asks Lambda to resume: the index of the lowest
    failed record; None for complete success; -1 for a response Lambda treats as complete
    failure (an empty, null or unknown itemIdentifier, a bad key name)."""
    payload = answer.payload
    if not isinstance(payload, dict) or payload.get("batchItemFailures") is None:
        return None
    failures = payload["batchItemFailures"]
    if not isinstance(failures, list):
        return -1
    if not failures:
        return None
    position = {r.sequence_number: n for n, r in enumerate(batch)}
    found = []
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in position:
            return -1
        found.append(position[identifier])
    return min(found)


@dataclass
class Discarded:
    """A batch the mapping gave up on, and why (the on-failure destination's condition)."""

    records: list[StreamRecord]
    condition: str
    """``RetryAttemptsExhausted`` or ``RecordAgeExceeded``."""
    invoke_count: int
    last_answer: Answer | None


class ShardConsumer:
    """One shard's side of the mapping: records in (``read``), batches to ``invoke``, discarded
    batches to ``discard``, the checkpoint advanced as batches succeed."""

    def __init__(
        self,
        mapping: Mapping,
        source: Source,
        read: Callable[[int], list[StreamRecord]],
        invoke: Callable[[dict[str, Any]], Answer],
        discard: Callable[[Discarded], None],
        checkpoint: Callable[[str], None] = lambda _seq: None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.mapping, self.source = mapping, source
        self._read, self._invoke, self._discard, self._checkpoint = read, invoke, discard, checkpoint
        self._clock, self._sleep = clock, sleep
        self.pending: list[StreamRecord] = []
        """Read, not yet done: the next batch is taken from its front."""
        self.invocations = 0

    def gather(self, stop: threading.Event | None = None) -> list[StreamRecord]:
        """The next batch: up to BatchSize records; short of that, more are read until the
        batching window has passed since the first read, or the payload would pass 6 MB."""
        deadline = self._clock() + self.mapping.maximum_batching_window_seconds
        while True:
            self._fill()
            if self._full() or self._clock() >= deadline or (stop is not None and stop.is_set()):
                return self._batch()
            self._sleep(min(POLL_SECONDS, max(0.0, deadline - self._clock())))

    def deliver(self, batch: list[StreamRecord]) -> None:
        """Hand ``batch`` to the function until it is done or discarded (retries, bisection and
        record age as the mapping says); the checkpoint follows each part that is done."""
        queue, attempts = [batch], 0
        while queue:
            head = queue[0]
            head, expired = self._unexpired(head)
            if expired:
                self._give_up(expired, "RecordAgeExceeded", attempts, None)
            if not head:
                queue.pop(0)
                attempts = 0
                continue
            answer = self._call(head)
            if not answer.failed:
                resume = failed_from(answer, head) if self.mapping.report_batch_item_failures else None
                if resume is None:
                    self._done(head)
                    queue.pop(0)
                    attempts = 0
                    continue
                if resume > 0:  # the records before the lowest failed one are done
                    self._done(head[:resume])
                    queue[0] = head = head[resume:]
            elif self.mapping.bisect_batch_on_function_error and len(head) > 1:
                half = len(head) // 2
                queue[0:1] = [head[:half], head[half:]]  # splitting consumes no retry
                continue
            attempts += 1
            if self.mapping.maximum_retry_attempts != -1 and attempts > self.mapping.maximum_retry_attempts:
                self._give_up(head, "RetryAttemptsExhausted", attempts, answer)
                queue.pop(0)
                attempts = 0
            else:
                self._sleep(RETRY_PAUSE_SECONDS)

    def _call(self, batch: list[StreamRecord]) -> Answer:
        self.invocations += 1
        return self._invoke(event(batch, self.source))

    def _unexpired(self, batch: list[StreamRecord]) -> tuple[list[StreamRecord], list[StreamRecord]]:
        age = self.mapping.maximum_record_age_seconds
        if age == -1:
            return batch, []
        now = self._clock()
        keep = [r for r in batch if now - r.arrived <= age]
        return keep, [r for r in batch if now - r.arrived > age]

    def _give_up(
        self, records: list[StreamRecord], condition: str, count: int, answer: Answer | None
    ) -> None:
        log.warning(
            "%s: %d records from %s discarded (%s)",
            self.source.shard_id,
            len(records),
            records[0].sequence_number,
            condition,
        )
        self._discard(Discarded(list(records), condition, count, answer))
        self._done(records)

    def _done(self, records: Sequence[StreamRecord]) -> None:
        if records:
            last = records[-1].sequence_number
            self.pending = [r for r in self.pending if int(r.sequence_number) > int(last)]
            self._checkpoint(last)

    def _fill(self) -> None:
        if len(self.pending) < self.mapping.batch_size:
            self.pending += self._read(min(GET_RECORDS_LIMIT, self.mapping.batch_size * 2))

    def _full(self) -> bool:
        if len(self.pending) >= self.mapping.batch_size:
            return True
        return sum(_event_bytes(r) for r in self.pending) >= MAX_PAYLOAD_BYTES

    def _batch(self) -> list[StreamRecord]:
        batch: list[StreamRecord] = []
        size = 0
        for r in self.pending[: self.mapping.batch_size]:
            size += _event_bytes(r)
            if batch and size > MAX_PAYLOAD_BYTES:
                break
            batch.append(r)
        return batch


def invocation_record(d: Discarded, source: Source, function_arn: str, clock: float) -> dict[str, Any]:
    """The on-failure destination's document for a discarded batch (with the event itself, as an
    S3 destination keeps it)."""
    first, last = d.records[0], d.records[-1]
    error = d.last_answer.error if d.last_answer is not None else None
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": d.condition,
            "approximateInvokeCount": d.invoke_count,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled" if error is not None else "",
        },
        "version": "1.0",
        "timestamp": _iso(clock),
        "KinesisBatchInfo": {
            "shardId": source.shard_id,
            "startSequenceNumber": first.sequence_number,
            "endSequenceNumber": last.sequence_number,
            "approximateArrivalOfFirstRecord": _iso(first.arrived),
            "approximateArrivalOfLastRecord": _iso(last.arrived),
            "batchSize": len(d.records),
            "streamArn": source.stream_arn,
        },
        "payload": json.dumps(event(d.records, source)),
    }


def on_failure_key(mapping: Mapping, shard_id: str, clock: float) -> str:
    """``aws/lambda/<mapping UUID>/<shard>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>``: where
    an S3 on-failure destination puts an invocation record."""
    t = datetime.fromtimestamp(clock, UTC)
    return f"aws/lambda/{mapping.uuid}/{shard_id}/{t:%Y/%m/%d}/{t:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Checkpoints:
    """Each shard's checkpoint (the last sequence number done) in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def get(self, shard_id: str) -> str | None:
        value = self._load().get(shard_id)
        return value if isinstance(value, str) else None

    def put(self, shard_id: str, sequence: str) -> None:
        with self._lock:
            data = self._load()
            data[shard_id] = sequence
            partial = self.path.with_name(f".{self.path.name}.tmp")
            partial.write_text(json.dumps(data))
            partial.replace(self.path)

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}
