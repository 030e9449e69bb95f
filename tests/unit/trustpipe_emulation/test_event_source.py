"""The Kinesis event source mapping's rules, each held to the sentence of the Lambda Developer
Guide it follows ("Using Lambda with Kinesis", "Configuring partial batch response with Kinesis
Data Streams and Lambda", "Retain discarded batch records for a Kinesis Data Streams event source",
"Lambda parameters for Amazon Kinesis Data Streams event source mappings")."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.harness.kinesis_events import recorded
from trustpipe_emulation import event_source as es
from trustpipe_emulation.event_source import Discarded, Mapping, ShardConsumer, Source, StreamRecord
from trustpipe_emulation.lambda_poller import _ShardReader
from trustpipe_emulation.lambda_runtime import Answer

SOURCE = Source("arn:aws:kinesis:us-east-1:123456789012:stream/scored", "shardId-000000000001")
NOW = 1_800_000_000.0


def records(n: int, start: int = 1, arrived: float = NOW, size: int = 4) -> list[StreamRecord]:
    return [
        StreamRecord(str(1000 + i), f"acme/m-{i}", f"r{i}".encode().ljust(size, b"."), arrived)
        for i in range(start, start + n)
    ]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Run:
    """A consumer over ``reads`` (what each GetRecords returns, in turn) and a function
    ``answer(batch) -> Answer``; what it was invoked with, what it discarded, its checkpoints."""

    def __init__(
        self, mapping: Mapping, reads: list[list[StreamRecord]], answer: Callable[[list[str]], Answer]
    ) -> None:
        self.reads, self.answer = list(reads), answer
        self.invoked: list[list[str]] = []
        self.discarded: list[Discarded] = []
        self.checkpoints: list[str] = []
        self.clock = Clock()
        self.consumer = ShardConsumer(
            mapping,
            SOURCE,
            read=lambda _limit: self.reads.pop(0) if self.reads else [],
            invoke=self._invoke,
            discard=self.discarded.append,
            checkpoint=self.checkpoints.append,
            clock=self.clock,
            sleep=self.clock.sleep,
        )

    def _invoke(self, event: dict[str, Any]) -> Answer:
        batch = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
        self.invoked.append(batch)
        return self.answer(batch)

    def drain(self) -> None:
        while batch := self.consumer.gather():
            self.consumer.deliver(batch)


def ok(_batch: list[str]) -> Answer:
    return Answer(payload={"batchItemFailures": []})


def error(_batch: list[str]) -> Answer:
    return Answer(error={"errorType": "ValueError", "errorMessage": "boom"})


def sizes(run: Run) -> list[int]:
    return [len(b) for b in run.invoked]


def test_batch_size_caps_each_invocation() -> None:
    # "Lambda reads records in batches and invokes your function to process records from the batch."
    run = Run(Mapping(batch_size=100), [records(250)], ok)
    run.drain()
    assert sizes(run) == [100, 100, 50]
    assert run.checkpoints[-1] == "1250"


def test_the_batching_window_gathers_records_until_it_has_passed() -> None:
    # MaximumBatchingWindowInSeconds: "The maximum amount of time to gather records before
    # invoking the function, in seconds."
    reads = [records(3), records(2, start=4), []]
    waited = Run(Mapping(batch_size=100, maximum_batching_window_seconds=5), reads, ok)
    assert len(waited.consumer.gather()) == 5
    assert waited.clock.now - NOW >= 2  # it read again while the window was open
    at_once = Run(Mapping(batch_size=100), [records(3), records(2, start=4)], ok)
    assert len(at_once.consumer.gather()) == 3


def test_a_full_batch_goes_without_waiting_out_the_window() -> None:
    # "Lambda invokes the function when ... the batch size is met"
    run = Run(Mapping(batch_size=10, maximum_batching_window_seconds=300), [records(10)], ok)
    assert len(run.consumer.gather()) == 10 and run.clock.now == NOW


def test_a_batch_stops_short_of_the_six_mb_payload_quota() -> None:
    # "Lambda invokes the function when ... the payload reaches 6 MB"
    run = Run(Mapping(batch_size=100), [records(10, size=1024 * 1024)], ok)
    run.drain()
    assert sizes(run) == [4, 4, 2]


def test_lambda_resumes_at_the_lowest_failed_sequence_number_and_retries_all_after_it() -> None:
    # "If the batchItemFailures array contains multiple items, Lambda uses the record with the
    # lowest sequence number as the checkpoint. Lambda then retries all records starting from
    # that checkpoint."
    answers = iter(
        [Answer(payload={"batchItemFailures": [{"itemIdentifier": "1005"}, {"itemIdentifier": "1003"}]})]
    )
    run = Run(Mapping(batch_size=6), [records(6)], lambda b: next(answers, ok(b)))
    run.drain()
    assert run.invoked == [[str(1000 + i) for i in range(1, 7)], ["1003", "1004", "1005", "1006"]]
    assert run.checkpoints == ["1002", "1006"]


@pytest.mark.parametrize("payload", [{"batchItemFailures": []}, {"batchItemFailures": None}, {}, None])
def test_an_empty_or_null_response_is_complete_success(payload: Any) -> None:
    # "Lambda treats a batch as a complete success if you return ... An empty batchItemFailure
    # list, A null batchItemFailure list, An empty EventResponse, A null EventResponse"
    run = Run(Mapping(batch_size=3), [records(3)], lambda _b: Answer(payload=payload))
    run.drain()
    assert sizes(run) == [3] and run.checkpoints == ["1003"]


@pytest.mark.parametrize(
    "failures",
    [
        [{"itemIdentifier": ""}],
        [{"itemIdentifier": None}],
        [{"sequenceNumber": "1002"}],
        [{"itemIdentifier": "9"}],
    ],
    ids=["empty", "null", "bad-key-name", "not-in-batch"],
)
def test_a_malformed_item_identifier_is_complete_failure(failures: list[dict[str, Any]]) -> None:
    # "Lambda treats a batch as a complete failure if you return ... An empty string
    # itemIdentifier, A null itemIdentifier, An itemIdentifier with a bad key name"
    answers = iter([Answer(payload={"batchItemFailures": failures})])
    run = Run(Mapping(batch_size=3), [records(3)], lambda b: next(answers, ok(b)))
    run.drain()
    assert sizes(run) == [3, 3]


def test_without_report_batch_item_failures_the_response_is_not_read() -> None:
    # "Even when your function code returns partial batch failure responses, these responses will
    # not be processed by Lambda unless the ReportBatchItemFailures feature is explicitly turned on"
    partial = Answer(payload={"batchItemFailures": [{"itemIdentifier": "1002"}]})
    run = Run(Mapping(batch_size=3, report_batch_item_failures=False), [records(3)], lambda _b: partial)
    run.drain()
    assert sizes(run) == [3] and run.checkpoints == ["1003"]


def poisoned(batch: list[str]) -> Answer:
    return error(batch) if "1003" in batch else ok(batch)


def test_bisect_splits_a_failed_batch_in_two_without_consuming_the_retry_quota() -> None:
    # BisectBatchOnFunctionError "splits a failed batch into two smaller batches, isolating bad
    # records and avoiding timeouts. Splitting batches doesn't consume the retry quota."
    run = Run(
        Mapping(batch_size=4, bisect_batch_on_function_error=True, maximum_retry_attempts=0),
        [records(4)],
        poisoned,
    )
    run.drain()
    assert run.invoked == [
        ["1001", "1002", "1003", "1004"],
        ["1001", "1002"],
        ["1003", "1004"],
        ["1003"],
        ["1004"],
    ]
    assert [[r.sequence_number for r in d.records] for d in run.discarded] == [["1003"]]
    assert run.discarded[0].condition == "RetryAttemptsExhausted"
    assert run.checkpoints[-1] == "1004"


def test_splits_leave_the_retry_quota_to_the_record_that_fails_alone() -> None:
    # "Splitting batches doesn't consume the retry quota.": one retry of the lone record is left
    first = lambda b: error(b) if "1001" in b else ok(b)  # noqa: E731
    run = Run(
        Mapping(batch_size=4, bisect_batch_on_function_error=True, maximum_retry_attempts=1),
        [records(4)],
        first,
    )
    run.drain()
    assert run.invoked == [
        ["1001", "1002", "1003", "1004"],
        ["1001", "1002"],
        ["1001"],
        ["1001"],
        ["1002"],
        ["1003", "1004"],
    ]
    assert run.discarded[0].invoke_count == 2


def test_with_bisect_a_partial_response_retries_only_the_remaining_records() -> None:
    # "When a batch partial success response is received and both BisectBatchOnFunctionError and
    # ReportBatchItemFailures are turned on, the batch is bisected at the returned sequence
    # number and Lambda retries only the remaining records."
    answers = iter([Answer(payload={"batchItemFailures": [{"itemIdentifier": "1003"}]})])
    run = Run(
        Mapping(batch_size=4, bisect_batch_on_function_error=True),
        [records(4)],
        lambda b: next(answers, ok(b)),
    )
    run.drain()
    assert run.invoked == [["1001", "1002", "1003", "1004"], ["1003", "1004"]]


def test_a_failing_batch_is_retried_up_to_maximum_retry_attempts_then_discarded() -> None:
    # "If the function is invoked but returns an error, Lambda retries until the records expire,
    # exceed the maximum age (MaximumRecordAgeInSeconds), or reach the configured retry quota
    # (MaximumRetryAttempts)." ... "If the error handling measures fail, Lambda discards the
    # records and continues processing batches from the stream."
    run = Run(Mapping(batch_size=2, maximum_retry_attempts=2), [records(4)], lambda b: poisoned(b))
    run.drain()
    assert run.invoked == [["1001", "1002"], ["1003", "1004"], ["1003", "1004"], ["1003", "1004"]]
    (d,) = run.discarded
    assert d.condition == "RetryAttemptsExhausted" and d.invoke_count == 3
    assert run.checkpoints == ["1002", "1004"]


def test_minus_one_retries_until_the_function_succeeds() -> None:
    # MaximumRetryAttempts "-1 means infinite: failed records are retried until the record expires"
    failures = iter([error([])] * 5)
    run = Run(Mapping(batch_size=2), [records(2)], lambda b: next(failures, ok(b)))
    run.drain()
    assert len(run.invoked) == 6 and run.discarded == []


def test_records_past_the_maximum_age_are_discarded_unsent_and_the_rest_processed() -> None:
    # MaximumRecordAgeInSeconds: "Discard records older than the specified age." and "Before
    # invocation: ... it retries until the records expire or exceed the maximum age"
    old = records(2, arrived=NOW - 120)
    fresh = records(2, start=3)
    run = Run(Mapping(batch_size=4, maximum_record_age_seconds=60), [old + fresh], ok)
    run.drain()
    assert run.invoked == [["1003", "1004"]]
    (d,) = run.discarded
    assert d.condition == "RecordAgeExceeded" and [r.sequence_number for r in d.records] == ["1001", "1002"]


def test_a_batch_retried_past_the_maximum_age_is_discarded() -> None:
    run = Run(Mapping(batch_size=2, maximum_record_age_seconds=60), [records(2)], error)
    run.drain()  # each retry waits; the clock passes the age and the batch is given up
    assert run.discarded[-1].condition == "RecordAgeExceeded"
    assert run.checkpoints == ["1002"]


def test_the_on_failure_record_carries_the_batch_info_and_for_s3_the_whole_event() -> None:
    # "Each record sent to the destination is a JSON document with metadata about the failed
    # invocation." ... "For Amazon S3 destinations, Lambda also sends the entire invocation
    # record along with the metadata."
    batch = records(3)
    d = Discarded(batch, "RetryAttemptsExhausted", 4, error([]))
    doc = es.invocation_record(d, SOURCE, "arn:aws:lambda:us-east-1:123456789012:function:f", NOW)
    assert set(doc) == {
        "requestContext",
        "responseContext",
        "version",
        "timestamp",
        "KinesisBatchInfo",
        "payload",
    }
    assert doc["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert doc["requestContext"]["approximateInvokeCount"] == 4
    assert doc["responseContext"]["functionError"] == "Unhandled"
    info = doc["KinesisBatchInfo"]
    assert info["shardId"] == SOURCE.shard_id and info["streamArn"] == SOURCE.stream_arn
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == ("1001", "1003", 3)
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert json.loads(doc["payload"]) == es.event(batch, SOURCE)
    key = es.on_failure_key(Mapping(uuid="u-1"), SOURCE.shard_id, NOW)
    assert key.startswith(f"aws/lambda/u-1/{SOURCE.shard_id}/2027/01/15/2027-01-15T08.00.00-")


def test_the_event_has_the_documented_shape() -> None:
    # the recorded event's keys, record for record
    (mine,) = es.event(records(1), SOURCE)["Records"]
    (theirs,) = recorded()["Records"]
    assert set(mine) == set(theirs) and set(mine["kinesis"]) == set(theirs["kinesis"])
    assert mine["eventID"] == f"{SOURCE.shard_id}:1001"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"batch_size": 0}, "BatchSize"),
        ({"batch_size": 10_001}, "BatchSize"),
        ({"maximum_batching_window_seconds": 301}, "MaximumBatchingWindowInSeconds"),
        ({"maximum_retry_attempts": -2}, "MaximumRetryAttempts"),
        ({"maximum_record_age_seconds": 59}, "MaximumRecordAgeInSeconds"),
        ({"starting_position": "AT_SEQUENCE_NUMBER"}, "StartingPosition"),
        ({"starting_position": "AT_TIMESTAMP"}, "StartingPositionTimestamp"),
        ({"starting_timestamp": 1.0}, "StartingPositionTimestamp"),
    ],
)
def test_a_setting_create_event_source_mapping_would_refuse_is_refused_by_name(
    settings: dict[str, Any], named: str
) -> None:
    with pytest.raises(es.MappingError, match=named):
        Mapping(**settings)


class FakeKinesis:
    def __init__(self) -> None:
        self.iterators: list[dict[str, Any]] = []

    def get_shard_iterator(self, **args: Any) -> dict[str, Any]:
        self.iterators.append(args)
        return {"ShardIterator": "it"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        return {"Records": [], "NextShardIterator": "it"}


def test_each_shard_resumes_after_its_checkpoint(tmp_path: Path) -> None:
    # the mapping keeps a checkpoint per shard; a restarted poller reads after it
    path = tmp_path / "checkpoints.json"
    es.Checkpoints(path).put("shardId-000000000001", "1004")
    kinesis = FakeKinesis()
    for shard in ("shardId-000000000001", "shardId-000000000002"):
        _ShardReader(kinesis, "scored", shard, Mapping(), es.Checkpoints(path)).read(10)
    assert kinesis.iterators[0]["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER"
    assert kinesis.iterators[0]["StartingSequenceNumber"] == "1004"
    assert kinesis.iterators[1]["ShardIteratorType"] == "TRIM_HORIZON"
    # and a new mapping started AT_TIMESTAMP reads a shard without a checkpoint from that moment
    at = Mapping(starting_position="AT_TIMESTAMP", starting_timestamp=NOW)
    _ShardReader(kinesis, "scored", "shardId-000000000002", at, es.Checkpoints(path)).read(10)
    assert kinesis.iterators[2]["ShardIteratorType"] == "AT_TIMESTAMP"
    assert kinesis.iterators[2]["Timestamp"] == NOW
