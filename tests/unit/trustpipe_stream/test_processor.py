"""The shard processor driven by the multilang protocol's own messages, as the KCL's
MultiLangDaemon sends them over stdin (amazon_kclpy parses them, exactly as in production)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from typing import Any

import pytest
from amazon_kclpy import kcl

from trustpipe.errors import PermanentError, TransientError
from trustpipe_stream.processor import Rejected, ShardProcessor, StreamRecord

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
    """Rejects payloads starting with b"bad"; fails transiently ``fail`` times first."""

    def __init__(self, fail: int = 0, error: Exception | None = None) -> None:
        self.seen: list[list[bytes]] = []
        self.aside: list[tuple[str, list[tuple[bytes, str]]]] = []
        self.fail, self.error = fail, error

    def process(self, records: Sequence[StreamRecord]) -> Sequence[Rejected]:
        self.seen.append([r.data for r in records])
        if self.error is not None:
            raise self.error
        if self.fail:
            self.fail -= 1
            raise TransientError("database restarting")
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
