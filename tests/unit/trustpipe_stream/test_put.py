"""Putting on Kinesis: PutRecords limits and retries of only the refused records, on a fake
Kinesis (the real one is in the integration tests)."""

from __future__ import annotations

import pytest

from tests.harness.fakes import FakeKinesis
from trustpipe_stream import put


def test_batches_hold_500_records_or_5_mib() -> None:
    # GIVEN 1,201 small records, and 12 records of 1 MiB less a little
    small = [(b"x", f"k{n}") for n in range(1201)]
    big = [(b"y" * (1024 * 1024 - 10), f"b{n}") for n in range(12)]
    # WHEN they are batched
    by_count = [len(b) for b in put.batches(small)]
    by_size = [len(b) for b in put.batches(big)]
    # THEN no batch passes either PutRecords limit, and nothing is dropped or reordered
    assert by_count == [500, 500, 201]
    assert by_size == [5, 5, 2]
    assert [e for b in put.batches(small) for e in b] == small


def test_only_the_refused_records_are_put_again() -> None:
    # GIVEN a stream that refuses two of five records once
    kinesis = FakeKinesis(refuse={"k1", "k3"})
    delays: list[float] = []
    putter = put.Putter(kinesis, "raw", sleep=delays.append, jitter=lambda: 1.0)
    # WHEN five records are put
    putter.put((b"d", f"k{n}") for n in range(5))
    # THEN the second call carried exactly the refused two, after a backoff
    assert [r["PartitionKey"] for r in kinesis.calls[1]] == ["k1", "k3"]
    assert sorted(r["PartitionKey"] for r in kinesis.stored) == [f"k{n}" for n in range(5)]
    assert putter.retried == 2 and delays == [put.RETRY_BASE_SECONDS]


def test_records_refused_every_time_fail_the_run_with_the_reason() -> None:
    kinesis = FakeKinesis(refuse={"k0"}, times=10**6)
    delays: list[float] = []
    putter = put.Putter(kinesis, "raw", sleep=delays.append, jitter=lambda: 1.0)
    with pytest.raises(put.PutFailedError, match=r"1 records still refused.*ProvisionedThroughputExceeded"):
        putter.put([(b"d", "k0"), (b"d", "k1")])
    assert len(kinesis.calls) == put.PUT_ATTEMPTS
    assert max(delays) == put.RETRY_CAP_SECONDS  # the backoff stops growing at its cap
