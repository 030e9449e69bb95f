"""Putting records on a Kinesis stream: PutRecords-sized batches, and retries of only the records
that failed (capped, jittered backoff). The sensors, the scorers and the stream importers put so."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from trustpipe.errors import TransientError
from trustpipe.retry import Backoff

KINESIS_MAX_RECORDS_PER_PUT = 500
"""PutRecords takes at most 500 records a call."""
KINESIS_MAX_BYTES_PER_PUT = 5 * 1024 * 1024
"""... and at most 5 MiB a call, data and partition keys together."""
KINESIS_MAX_RECORD_BYTES = 1024 * 1024
"""One record's data and partition key: at most 1 MiB."""
PUT_ATTEMPTS = 10
RETRY_BASE_SECONDS, RETRY_CAP_SECONDS = 0.1, 5.0
BACKOFF = Backoff(RETRY_BASE_SECONDS, RETRY_CAP_SECONDS)


class PutFailedError(TransientError):
    """Records were still refused after every retry (throttled or failing shards)."""


Entry = tuple[bytes, str]
"""(data, partition key) of one record."""


def batches(entries: Iterable[Entry]) -> Iterator[list[Entry]]:
    """``entries`` in PutRecords-sized batches (500 records, 5 MiB), order kept."""
    batch: list[Entry] = []
    size = 0
    for data, key in entries:
        n = len(data) + len(key.encode())
        if batch and (len(batch) == KINESIS_MAX_RECORDS_PER_PUT or size + n > KINESIS_MAX_BYTES_PER_PUT):
            yield batch
            batch, size = [], 0
        batch.append((data, key))
        size += n
    if batch:
        yield batch


@dataclass
class Putter:
    """PutRecords with retries of only the records that failed (capped, jittered backoff)."""

    kinesis: Any
    stream_name: str
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    calls: int = 0
    retried: int = 0

    def put(self, entries: Iterable[Entry]) -> None:
        for batch in batches(entries):
            self._put_batch(batch)

    def _put_batch(self, batch: list[Entry]) -> None:
        pending = batch
        for attempt in range(PUT_ATTEMPTS):
            self.calls += 1
            response = self.kinesis.put_records(
                StreamName=self.stream_name,
                Records=[{"Data": data, "PartitionKey": key} for data, key in pending],
            )
            if not response.get("FailedRecordCount"):
                return
            failed = [e for e, r in zip(pending, response["Records"], strict=True) if "ErrorCode" in r]
            codes = Counter(r["ErrorCode"] for r in response["Records"] if "ErrorCode" in r)
            self.retried += len(failed)
            pending = failed
            self.sleep(BACKOFF.delay(attempt, self.jitter))
        raise PutFailedError(
            f"{len(pending)} records still refused by {self.stream_name} after {PUT_ATTEMPTS} attempts: "
            + ", ".join(f"{code} x{n}" for code, n in codes.items())
        )
