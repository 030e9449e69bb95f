"""The record processor every stream worker runs under the Kinesis Client Library.

The KCL's MultiLangDaemon (Java) owns leases, load balancing, fencing, resharding and the
checkpoint table; it starts one processor process per leased shard and speaks the multilang
protocol with it over stdin/stdout (``amazon_kclpy``). ``ShardProcessor`` is that processor for
trustpipe: it hands each batch of raw record bytes to the worker's ``process(records)`` and
checkpoints afterwards.

Delivery is **at least once**: a batch is checkpointed only after ``process`` returned (and the
records it rejected reached the worker's error path). A worker that dies mid-batch, or a lease
that moves, means the records after the last checkpoint are delivered again, to this processor's
successor; workers make that harmless (idempotent writes keyed by (enterprise, message id)).

- Records the worker cannot use (undecodable, unknown schema, oversize) come back from
  ``process`` as ``Rejected`` with a reason; they go to ``set_aside`` and the shard moves on.
- A transient failure (``trustpipe.transient.is_transient``: ``TransientError``, a network fault,
  throttling, a database that is down) retries the same batch with capped, jittered backoff: the
  shard waits, nothing is skipped.
- Any other error is the input's: the batch is halved, and each half processed (or halved again)
  until the record that fails stands alone; that record is set aside with the error's class and
  message as its reason, and every other record of the batch is processed. A batch whose every
  record fails alone sets every record aside (after ``2n - 1`` attempts), it never loops. Workers'
  side effects are idempotent, so a half processed again after a partial attempt changes nothing.
- At shard end (after a split or merge) and when the daemon asks to shut down (SIGTERM, lease
  handed off gracefully) the processor checkpoints, so the child shards or the next owner start
  exactly after what was processed. On a lost lease it cannot checkpoint and does not try.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor as kcl_v3

from trustpipe.telemetry import WorkerMetrics
from trustpipe.transient import is_transient
from trustpipe_stream.batch import (
    BACKOFF,
    REASON_MAX_CHARS,
    RETRY_BASE_SECONDS,
    RETRY_CAP_SECONDS,
    Rejected,
    StreamRecord,
    StreamWorker,
    isolate,
    reason_of,
    with_retries,
)

__all__ = [
    "REASON_MAX_CHARS",
    "RETRY_BASE_SECONDS",
    "RETRY_CAP_SECONDS",
    "Rejected",
    "ShardProcessor",
    "StreamRecord",
    "StreamWorker",
    "reason_of",
    "run",
    "with_retries",
]
log = logging.getLogger("trustpipe.stream")

CHECKPOINT_RETRIES = 5
RETRYABLE_CHECKPOINT_ERRORS = ("ThrottlingException", "KinesisClientLibDependencyException")
"""Checkpoint failures worth another try; the others (ShutdownException, InvalidStateException)
mean the lease is gone and a retry cannot succeed."""


class ShardProcessor(kcl_v3.RecordProcessorBase):  # type: ignore[misc]
    """One shard's processor: batches to the worker, checkpoint after it returns."""

    def __init__(
        self,
        worker: StreamWorker,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.worker = worker
        self.metrics = metrics
        self.shard_id = "?"
        self._sleep, self._jitter = sleep, jitter

    def initialize(self, initialize_input: Any) -> None:
        self.shard_id = initialize_input.shard_id
        log.info("shard %s: starting after %s", self.shard_id, initialize_input.sequence_number)

    def process_records(self, process_records_input: Any) -> None:
        records = [_record(r, self.shard_id) for r in process_records_input.records]
        if not records:  # the daemon calls with none when the shard is idle: the worker is alive
            if self.metrics is not None:
                self.metrics.alive()
            return
        rejected = self._isolate(records)
        if rejected:
            self._until_done(lambda: self.worker.set_aside(self.shard_id, rejected))
        if self.metrics is not None:
            behind = getattr(process_records_input, "millis_behind_latest", None)
            # A worker with figures of its own (the scorer's degraded counters) hands them over
            # per batch: ``figures() -> [(Metric, value)]``, since the last call.
            figures = getattr(self.worker, "figures", None)
            self.metrics.batch(
                processed=len(records) - len(rejected),
                errors=len(rejected),
                lag_seconds=behind / 1000 if behind is not None else None,
                more=figures() if callable(figures) else (),
            )
        last = records[-1]
        self._checkpoint(process_records_input.checkpointer, last.sequence_number, last.sub_sequence_number)

    def lease_lost(self, lease_lost_input: Any) -> None:
        log.info("shard %s: lease lost; the next owner resumes after the last checkpoint", self.shard_id)

    def shard_ended(self, shard_ended_input: Any) -> None:
        log.info("shard %s: ended; checkpointing so its children can start", self.shard_id)
        self._checkpoint(shard_ended_input.checkpointer)

    def shutdown_requested(self, shutdown_requested_input: Any) -> None:
        log.info("shard %s: shutdown requested; final checkpoint", self.shard_id)
        self._checkpoint(shutdown_requested_input.checkpointer)

    def _isolate(self, records: Sequence[StreamRecord]) -> list[Rejected]:
        """What ``records`` rejected (``batch.isolate``): ``process`` retried while it fails
        transiently (the shard waits: skipping would lose the batch), halved around the record
        whose own error fails it."""
        return isolate(
            records, lambda part: self._until_done(lambda: self.worker.process(part), retry=is_transient)
        )

    def _until_done(
        self, attempt: Callable[[], Any], retry: Callable[[Exception], bool] = lambda _err: True
    ) -> Any:
        """``attempt()`` until it returns; failures that ``retry`` accepts wait a capped, jittered
        backoff (the shard waits with them: skipping would lose the batch), others are raised."""

        def warn(failures: int, err: Exception, delay: float) -> None:
            log.warning(
                "shard %s: attempt %d failed (%s: %s); retrying in %.1fs",
                self.shard_id,
                failures,
                type(err).__name__,
                err,
                delay,
            )

        return with_retries(attempt, self._sleep, warn, jitter=self._jitter, retry=retry)

    def _checkpoint(self, checkpointer: Any, sequence: str | None = None, sub: int | None = None) -> bool:
        """Checkpoint at ``sequence`` (or at the end of what was delivered); False when the lease
        is gone (another owner will resume after the last checkpoint)."""
        for attempt in range(CHECKPOINT_RETRIES):
            try:
                checkpointer.checkpoint(sequence, sub)
                return True
            except kcl.CheckpointError as err:
                if err.value not in RETRYABLE_CHECKPOINT_ERRORS:
                    log.info("shard %s: checkpoint refused (%s): lease gone", self.shard_id, err.value)
                    return False
                self._sleep(BACKOFF.delay(attempt, self._jitter))
        log.warning("shard %s: checkpoint still throttled; the next batch will checkpoint", self.shard_id)
        return False


def _record(r: Any, shard_id: str) -> StreamRecord:
    return StreamRecord(
        data=r.binary_data,
        partition_key=r.partition_key,
        sequence_number=r.sequence_number,
        sub_sequence_number=int(r.sub_sequence_number or 0),
        arrived_ms=int(r.timestamp_millis),
        shard_id=shard_id,
    )


def run(worker: StreamWorker, metrics: WorkerMetrics | None = None) -> None:
    """The processor's process: the daemon starts it per shard, stdin/stdout carry the protocol."""
    kcl.KCLProcess(ShardProcessor(worker, metrics=metrics)).run()
