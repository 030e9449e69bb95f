"""Putting records on a Kinesis stream: PutRecords-sized batches, and retries of only the records
that failed (capped, jittered backoff). The sensors, the scorers and the stream importers put so."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from trustpipe.errors import TransientError
from trustpipe.kinesis import KINESIS_MAX_RECORD_BYTES, Entry, batches
from trustpipe.retry import Backoff

__all__ = ["KINESIS_MAX_RECORD_BYTES", "Entry", "PutFailedError", "Putter", "batches"]

PUT_ATTEMPTS = 10
RETRY_BASE_SECONDS, RETRY_CAP_SECONDS = 0.1, 5.0
BACKOFF = Backoff(RETRY_BASE_SECONDS, RETRY_CAP_SECONDS)


class PutFailedError(TransientError):
    """Records were still refused after every retry (throttled or failing shards)."""


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
