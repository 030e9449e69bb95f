"""The stream workers as Lambda handlers: Lambda's Kinesis events in, Powertools' partial batch
responses out; poison isolated as on the KCL path, transient failures handed back to Lambda from
the lowest record not done (Lambda resumes the shard there)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.harness.kinesis_events import event, recorded, sequence
from trustpipe.errors import TransientError
from trustpipe_stream import lambda_batch
from trustpipe_stream.batch import Rejected, StreamRecord


class Worker:
    """Rejects payloads starting with b"bad"; raises ValueError for a batch holding one starting
    with b"poison"; a batch holding one starting with b"down" (and no poison) fails transiently,
    every time."""

    def __init__(self, aside_fails: bool = False) -> None:
        self.seen: list[StreamRecord] = []
        self.done: list[bytes] = []
        self.aside: list[tuple[str, list[tuple[bytes, str]]]] = []
        self.aside_fails = aside_fails

    def process(self, records: Sequence[StreamRecord]) -> Sequence[Rejected]:
        self.seen += records
        data = [r.data for r in records]
        if poison := [d for d in data if d.startswith(b"poison")]:
            raise ValueError(f"math domain error ({poison[0].decode()})")
        if any(d.startswith(b"down") for d in data):
            raise TransientError("database restarting")
        self.done += data
        return [Rejected(r, "BadMagicByteError: not framed") for r in records if r.data.startswith(b"bad")]

    def set_aside(self, shard_id: str, rejected: Sequence[Rejected]) -> None:
        if self.aside_fails:
            raise TransientError("S3 unreachable")
        self.aside.append((shard_id, [(r.record.data, r.reason) for r in rejected]))


def handle(worker: Worker, e: dict[str, Any]) -> dict[str, Any]:
    return lambda_batch.handle(worker, e, None, sleep=lambda _s: None)


def failures(answer: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in answer["batchItemFailures"]]


def test_the_recorded_event_reaches_the_worker_as_the_kcl_would_hand_it() -> None:
    # GIVEN Lambda's documented Kinesis event (base64 data, partition key, sequence number...)
    worker = Worker()
    # WHEN the handler takes it
    answer = handle(worker, recorded())
    # THEN the worker sees the decoded record with its shard and position, and nothing fails
    assert answer == {"batchItemFailures": []}
    (r,) = worker.seen
    assert r.data == b"Hello, this is a test."
    assert r.partition_key == "acme/m-0001"
    assert r.sequence_number == "49590338271490256608559692538361571095921575989136588898"
    assert r.shard_id == "shardId-000000000006"
    assert r.arrived_ms == 1545084650987


def test_rejected_records_are_set_aside_with_their_reason_and_acknowledged() -> None:
    worker = Worker()
    answer = handle(worker, event(b"a", b"bad-1", b"c"))
    assert failures(answer) == []
    assert worker.aside == [("shardId-000000000006", [(b"bad-1", "BadMagicByteError: not framed")])]
    assert worker.done == [b"a", b"bad-1", b"c"]


def test_a_poisoned_record_is_isolated_by_halving_and_set_aside_alone() -> None:
    # GIVEN 8 records, the 6th one the worker's own error fails (ValueError, not transient)
    worker = Worker()
    payloads = [b"poison-5" if n == 5 else f"r{n}".encode() for n in range(8)]
    # WHEN handled
    answer = handle(worker, event(*payloads))
    # THEN it alone is set aside with the error as its reason, the 7 others are processed
    assert failures(answer) == []
    assert worker.aside == [
        ("shardId-000000000006", [(b"poison-5", "ValueError: math domain error (poison-5)")])
    ]
    assert sorted(worker.done) == sorted(p for p in payloads if p != b"poison-5")


def test_a_transient_failure_hands_back_the_first_record_not_done_and_every_later_one() -> None:
    # GIVEN a batch whose second half fails transiently past the retries, after a poisoned record
    worker = Worker()
    payloads = [b"r0", b"poison-1", b"r2", b"r3", b"r4", b"r5", b"down-6", b"r7"]
    # WHEN handled
    answer = handle(worker, event(*payloads))
    # THEN Lambda is told to resume at the failing half's first record (the lowest failed), the
    # records before it are done, and the poison before it is on the error path
    assert failures(answer) == [sequence(n) for n in range(4, 8)]
    assert worker.done == [b"r0", b"r2", b"r3"]
    assert [d for _, recs in worker.aside for d, _ in recs] == [b"poison-1"]


def test_redelivery_from_the_lowest_failed_record_completes_the_batch_and_skips_nothing() -> None:
    # GIVEN a batch split around its poison whose second half failed transiently, then the
    # world recovered
    worker = Worker()
    payloads = [b"r0", b"poison-1", b"r2", b"r3", b"down-4", b"r5"]
    first = handle(worker, event(*payloads))
    lowest = min(int(s) for s in failures(first))
    # WHEN Lambda delivers the shard again from the lowest failed sequence number
    recovered = [b"r4" if p.startswith(b"down") else p for p in payloads]
    again = event(*recovered)
    again["Records"] = [r for r in again["Records"] if int(r["kinesis"]["sequenceNumber"]) >= lowest]
    second = handle(worker, again)
    # THEN every record was processed at least once and nothing was left out
    assert failures(second) == []
    assert failures(first) == [sequence(n) for n in range(3, 6)]
    assert set(worker.done) == {b"r0", b"r2", b"r3", b"r4", b"r5"}
    assert [d for _, recs in worker.aside for d, _ in recs] == [b"poison-1"]


def test_a_batch_whose_every_record_failed_fails_the_invocation_so_lambda_can_bisect_it() -> None:
    # a transient failure of the whole batch is not split (as on the KCL path): all of it goes back
    worker = Worker()
    with pytest.raises(BatchProcessingError):
        handle(worker, event(b"r0", b"down-1", b"r2"))
    assert worker.done == [] and len(worker.seen) == 3 * lambda_batch.TRANSIENT_ATTEMPTS


def test_a_set_aside_that_cannot_be_written_hands_its_records_back() -> None:
    worker = Worker(aside_fails=True)
    answer = handle(worker, event(b"r0", b"bad-1", b"r2"))
    assert failures(answer) == [sequence(1), sequence(2)]


def test_a_record_whose_data_is_not_base64_is_set_aside_with_that_reason() -> None:
    worker = Worker()
    e = event(b"r0", b"r1")
    e["Records"][1]["kinesis"]["data"] = "not base64!"
    answer = handle(worker, e)
    assert failures(answer) == []
    assert worker.aside == [
        (
            "shardId-000000000006",
            [(b"not base64!", "UndecodableEventRecord: the record's data is not base64")],
        )
    ]
    assert worker.done == [b"r0"]


@pytest.mark.parametrize(
    "bad",
    [{}, {"Records": "x"}, {"Records": [{"kinesis": {}}]}, {"Records": [{"kinesis": "x"}]}, {"Records": [7]}],
)
def test_an_event_that_is_not_a_kinesis_batch_fails_the_invocation_with_one_reason(bad: Any) -> None:
    with pytest.raises(ValueError, match="not a Kinesis event"):
        handle(Worker(), bad)


def test_the_handler_builds_its_worker_once_from_the_settings_it_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Path(__file__).resolve().parents[1] / "fixtures" / "settings.json"
    monkeypatch.setenv(lambda_batch.SETTINGS_ENV, str(settings))
    built: list[Any] = []
    worker = Worker()

    def build(aws: Any) -> Worker:
        built.append(aws.settings)
        return worker

    handler = lambda_batch.handler_for(build)
    assert handler(event(b"a"), None) == {"batchItemFailures": []}
    assert handler(event(b"b", first=1), None) == {"batchItemFailures": []}
    assert [s.raw_stream_name for s in built] == [json.loads(settings.read_text())["raw_stream_name"]]
    assert worker.done == [b"a", b"b"]
