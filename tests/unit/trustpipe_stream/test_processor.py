"""The shard processor driven by the multilang protocol's own messages, as the KCL's
MultiLangDaemon sends them over stdin (amazon_kclpy parses them, exactly as in production)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest
from amazon_kclpy import kcl
from botocore.exceptions import ClientError, EndpointConnectionError

from trustpipe.errors import PermanentError, TransientError
from trustpipe_stream.processor import REASON_MAX_CHARS, Rejected, ShardProcessor, StreamRecord

SHARD = "shardId-000000000001"


def initialize() -> dict[str, Any]:
    return {
        "action": "initialize",
        "shardId": SHARD,
        "sequenceNumber": "TRIM_HORIZON",
        "subSequenceNumber": 0,
    }


def batch(*payloads: bytes, first: int = 1) -> dict[str, Any]:
    records = [
        {
            "action": "record",
            "data": base64.b64encode(p).decode(),
            "partitionKey": f"pk-{n}",
            "sequenceNumber": str(first + n),
            "subSequenceNumber": 0,
            "approximateArrivalTimestamp": 1_764_590_400_000 + n,
        }
        for n, p in enumerate(payloads)
    ]
    return {"action": "processRecords", "millisBehindLatest": 0, "records": records}


def checkpointed(sequence: str | None, error: str | None = None) -> dict[str, Any]:
    """The daemon's answer to a checkpoint request."""
    return {"action": "checkpoint", "sequenceNumber": sequence, "subSequenceNumber": 0, "error": error}


class Worker:
    """Rejects payloads starting with b"bad"; raises ValueError for a batch holding one starting
    with b"poison" (a legal record the worker cannot take); fails with ``transient`` ``fail``
    times first; raises ``error`` for every batch when given."""

    def __init__(
        self, fail: int = 0, error: Exception | None = None, transient: Exception | None = None
    ) -> None:
        self.seen: list[list[bytes]] = []
        self.done: list[bytes] = []
        """The records of the calls that returned (the batch's side effects happened)."""
        self.aside: list[tuple[str, list[tuple[bytes, str]]]] = []
        self.fail, self.error = fail, error
        self.transient = transient or TransientError("database restarting")

    def process(self, records: Sequence[StreamRecord]) -> Sequence[Rejected]:
        self.seen.append([r.data for r in records])
        if self.error is not None:
            raise self.error
        if self.fail:
            self.fail -= 1
            raise self.transient
        poison = [r.data for r in records if r.data.startswith(b"poison")]
        if poison:
            raise ValueError(f"math domain error ({poison[0].decode()})")
        self.done += [r.data for r in records]
        return [Rejected(r, "BadMagicByteError: not framed") for r in records if r.data.startswith(b"bad")]

    def set_aside(self, shard_id: str, rejected: Sequence[Rejected]) -> None:
        self.aside.append((shard_id, [(r.record.data, r.reason) for r in rejected]))


def drive(
    worker: Worker, *messages: dict[str, Any], sleeps: list[float] | None = None
) -> list[dict[str, Any]]:
    """Feed the messages to a processor as the daemon would; what it wrote back."""
    stdin = io.StringIO("".join(json.dumps(m) + "\n" for m in messages))
    stdout, stderr = io.StringIO(), io.StringIO()
    processor = ShardProcessor(
        worker, sleep=(sleeps if sleeps is not None else []).append, jitter=lambda: 1.0
    )
    kcl.KCLProcess(processor, input_file=stdin, output_file=stdout, error_file=stderr).run()
    assert "Caught exception" not in stderr.getvalue(), stderr.getvalue()
    return [json.loads(line) for line in stdout.getvalue().splitlines() if line.strip()]


def checkpoints(out: list[dict[str, Any]]) -> list[str | None]:
    return [m["sequenceNumber"] for m in out if m["action"] == "checkpoint"]


def test_a_batch_is_processed_then_checkpointed_at_its_last_record() -> None:
    worker = Worker()
    out = drive(worker, initialize(), batch(b"a", b"b", b"c"), checkpointed("3"))
    assert worker.seen == [[b"a", b"b", b"c"]]
    assert checkpoints(out) == ["3"]
    assert [m["responseFor"] for m in out if m["action"] == "status"] == ["initialize", "processRecords"]


def test_rejected_records_go_to_the_error_path_and_the_shard_moves_on() -> None:
    worker = Worker()
    out = drive(
        worker,
        initialize(),
        batch(b"a", b"bad-1", b"c"),
        checkpointed("3"),
        batch(b"d", first=4),
        checkpointed("4"),
    )
    assert worker.aside == [(SHARD, [(b"bad-1", "BadMagicByteError: not framed")])]
    assert checkpoints(out) == ["3", "4"]


def test_a_transient_failure_retries_the_same_batch_with_backoff_and_skips_nothing() -> None:
    worker, sleeps = Worker(fail=2), []
    out = drive(worker, initialize(), batch(b"a", b"b"), checkpointed("2"), sleeps=sleeps)
    assert worker.seen == [[b"a", b"b"]] * 3  # at least once: the batch again, whole
    assert sleeps == [0.5, 1.0]
    assert checkpoints(out) == ["2"]


def test_a_batch_that_can_never_be_processed_is_set_aside_whole() -> None:
    worker = Worker(error=PermanentError("schema registry says no such subject"))
    out = drive(worker, initialize(), batch(b"a", b"b"), checkpointed("2"))
    assert [len(r) for _, r in worker.aside] == [2]
    assert worker.aside[0][1][0][1] == "PermanentError: schema registry says no such subject"
    assert checkpoints(out) == ["2"]


def test_nothing_is_checkpointed_before_process_returns() -> None:
    class Stop(BaseException):
        pass

    def give_up(_seconds: float) -> None:
        raise Stop

    worker = Worker(fail=5)
    stdin = io.StringIO(json.dumps(initialize()) + "\n" + json.dumps(batch(b"a")) + "\n")
    stdout = io.StringIO()
    processor = ShardProcessor(worker, sleep=give_up)
    with pytest.raises(Stop):
        kcl.KCLProcess(processor, input_file=stdin, output_file=stdout, error_file=io.StringIO()).run()
    assert checkpoints([json.loads(line) for line in stdout.getvalue().splitlines() if line.strip()]) == []


def test_shard_end_and_shutdown_requested_checkpoint_and_a_lost_lease_does_not() -> None:
    ended = drive(
        Worker(), initialize(), batch(b"a"), checkpointed("1"), {"action": "shardEnded"}, checkpointed(None)
    )
    assert checkpoints(ended) == ["1", None]
    assert ended[-1] == {"action": "status", "responseFor": "shardEnded"}
    stopping = drive(Worker(), initialize(), {"action": "shutdownRequested"}, checkpointed(None))
    assert checkpoints(stopping) == [None]
    lost = drive(Worker(), initialize(), {"action": "leaseLost"})
    assert checkpoints(lost) == []
    assert lost[-1] == {"action": "status", "responseFor": "leaseLost"}


def test_a_throttled_checkpoint_is_retried_and_a_refused_one_is_not() -> None:
    sleeps: list[float] = []
    throttled = drive(
        Worker(),
        initialize(),
        batch(b"a"),
        checkpointed(None, "ThrottlingException"),
        checkpointed("1"),
        sleeps=sleeps,
    )
    assert checkpoints(throttled) == ["1", "1"] and len(sleeps) == 1
    # a refused checkpoint (the lease is gone) is not retried; the processor answers and goes on
    refused = drive(
        Worker(),
        initialize(),
        batch(b"a"),
        checkpointed(None, "ShutdownException"),
        batch(b"b", first=2),
        checkpointed("2"),
    )
    assert checkpoints(refused) == ["1", "2"]


def payloads(n: int, poison: set[int] = frozenset()) -> list[bytes]:  # type: ignore[assignment]
    """``n`` records ``r0``.. with those of ``poison`` (positions) poisoned."""
    return [f"poison-{i}".encode() if i in poison else f"r{i}".encode() for i in range(n)]


def test_one_poisoned_record_among_many_is_set_aside_alone_and_the_rest_processed() -> None:
    # GIVEN a batch of 8 whose 6th record the worker cannot take (ValueError, not transient)
    worker = Worker()
    data = payloads(8, poison={5})
    # WHEN the processor has it
    out = drive(worker, initialize(), batch(*data), checkpointed("8"))
    # THEN that record alone is set aside, with the error's class and message as its reason
    assert worker.aside == [(SHARD, [(b"poison-5", "ValueError: math domain error (poison-5)")])]
    # and every other record of the batch was processed, once, in shard order
    assert worker.done == [d for d in data if d != b"poison-5"]
    # and the checkpoint moved past the batch, poison included
    assert checkpoints(out) == ["8"]
    # and finding it took a bisection, not a call per record: 8, 4, 2, 2, 1, 1 (and the first half)
    assert len(worker.seen) <= 2 * 3 + 1


def test_two_poisoned_records_are_each_set_aside_in_one_call_in_shard_order() -> None:
    worker = Worker()
    data = payloads(7, poison={0, 4})
    out = drive(worker, initialize(), batch(*data, b"bad-7"), checkpointed("8"))
    assert [[d for d, _ in aside] for _, aside in worker.aside] == [[b"poison-0", b"poison-4", b"bad-7"]]
    assert worker.aside[0][1][2][1] == "BadMagicByteError: not framed"  # the worker's own rejects kept
    assert worker.done == [b"r1", b"r2", b"r3", b"r5", b"r6", b"bad-7"]
    assert checkpoints(out) == ["8"]


def test_a_batch_whose_every_record_fails_alone_is_set_aside_whole_without_looping() -> None:
    # GIVEN a batch of 5 poisoned records; WHEN processed
    worker = Worker()
    out = drive(worker, initialize(), batch(*payloads(5, poison=set(range(5)))), checkpointed("5"))
    # THEN each is set aside with its own reason, after 2n - 1 attempts (no retry, no loop)
    assert [r for _, aside in worker.aside for _, r in aside] == [
        f"ValueError: math domain error (poison-{i})" for i in range(5)
    ]
    assert len(worker.seen) == 2 * 5 - 1
    assert worker.done == [] and checkpoints(out) == ["5"]


@pytest.mark.parametrize(
    "transient",
    [
        TransientError("put still refused"),
        ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutRecords"),
        ClientError({"Error": {"Code": "ThrottlingException"}}, "PutItem"),
        EndpointConnectionError(endpoint_url="http://kinesis"),
        psycopg.OperationalError("connection refused"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
    ],
    ids=["TransientError", "kinesis-throughput", "throttling", "endpoint", "database-down", "admin-shutdown"],
)
def test_transient_errors_retry_the_whole_batch_and_are_never_split(transient: Exception) -> None:
    worker, sleeps = Worker(fail=3, transient=transient), []
    out = drive(worker, initialize(), batch(b"a", b"b", b"c"), checkpointed("3"), sleeps=sleeps)
    assert worker.seen == [[b"a", b"b", b"c"]] * 4
    assert sleeps == [0.5, 1.0, 2.0] and worker.aside == []
    assert worker.done == [b"a", b"b", b"c"] and checkpoints(out) == ["3"]


def test_a_transient_failure_while_splitting_retries_that_half_and_loses_nothing() -> None:
    # GIVEN a worker that fails transiently on the half it is given after the first split
    class Flaky(Worker):
        def process(self, records: Sequence[StreamRecord]) -> Sequence[Rejected]:
            if len(self.seen) == 1:
                self.seen.append([r.data for r in records])
                raise TransientError("database restarting")
            return super().process(records)

    worker, sleeps = Flaky(), []
    out = drive(worker, initialize(), batch(*payloads(4, poison={3})), checkpointed("4"), sleeps=sleeps)
    # THEN the half waited once and was processed; the poison alone set aside
    assert sleeps == [0.5]
    assert worker.done == [b"r0", b"r1", b"r2"]
    assert [d for _, aside in worker.aside for d, _ in aside] == [b"poison-3"]
    assert checkpoints(out) == ["4"]


def test_a_reason_is_cut_and_free_of_what_the_error_stores_refuse() -> None:
    worker = Worker(error=ValueError("bad \x00 value \ud800 " + "x" * 10_000))
    drive(worker, initialize(), batch(b"a"), checkpointed("1"))
    reason = worker.aside[0][1][0][1]
    assert reason.startswith("ValueError: bad \\x00 value \\ud800 x")
    assert "\x00" not in reason and len(reason) <= REASON_MAX_CHARS + 100
    reason.encode("utf-8")  # no lone surrogate left
