"""The importer worker: long-polls SQS, imports each announced object, deletes the message only
after commit and forward. Bad input (an object, or one row of it) is set aside with its reason
and the message deleted (it never loops), as is an object whose import fails for any reason that
is not transient; transient failures (``trustpipe.transient``, and verdicts stored but not yet
forwarded) are retried with capped backoff and, after the queue's maxReceiveCount, land in its
DLQ."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from trustpipe.announcement_queue import SQS_MAX_WAIT_SECONDS, AnnouncementQueue, QueueCounts
from trustpipe.announcements import MalformedEventError, ObjectCreated
from trustpipe.db.partitions import DayPartitions
from trustpipe.telemetry import WorkerMetrics
from trustpipe.transient import is_transient
from trustpipe_importer.blocks import DecodePool
from trustpipe_importer.load import Connect, Forward, UnimportableObjectError, import_object, record_set_aside

log = logging.getLogger("trustpipe.importer")
MAX_REASON = 2_000
"""Characters of an unexpected error kept as an object's set-aside reason."""


@dataclass
class Counts(QueueCounts):
    imported: int = 0
    duplicates: int = 0
    records: int = 0
    rows_refused: int = 0
    """Rows PostgreSQL refused, set aside one by one (their objects still imported)."""
    forwarded: int = 0
    keys: list[str] = field(default_factory=list)


class Importer(AnnouncementQueue[Counts]):
    """One worker process; run one per core (systemd template unit)."""

    def __init__(
        self,
        sqs: Any,
        s3: Any,
        connect: Connect,
        queue_url: str,
        visibility_timeout: int = 300,
        wait_seconds: int = SQS_MAX_WAIT_SECONDS,
        forward: Forward | None = None,
        metrics: WorkerMetrics | None = None,
        decode: DecodePool | None = None,
        days: DayPartitions | None = None,
    ) -> None:
        super().__init__(sqs, queue_url, Counts(), visibility_timeout, wait_seconds, metrics)
        self.s3, self.connect = s3, connect
        self.forward = forward
        """Where imported QUARANTINE/LABEL verdicts go (the imported stream, for the alerters)."""
        self.decode = decode
        """Worker processes that decode a large object's blocks (None: this process decodes)."""
        self.days = days or DayPartitions()
        """The store's day partitions this worker has seen or made."""

    def progress(self) -> tuple[int, int]:
        return self.counts.imported + self.counts.duplicates, self.counts.set_aside

    def malformed(self, message: dict[str, Any], err: MalformedEventError) -> None:
        self._set_aside(None, type(err).__name__, str(err), body=message["Body"])

    def consume(self, event: ObjectCreated) -> None:
        log.info("importing s3://%s/%s", event.bucket, event.key)
        try:
            outcome = import_object(self.connect, self.s3, event, self.forward, self.decode, self.days)
        except UnimportableObjectError as err:
            log.info("set aside s3://%s/%s: %s", event.bucket, event.key, err)
            self._set_aside(event, err.kind, str(err))
            return
        except Exception as err:
            if is_transient(err):
                raise
            # neither named bad input nor the world's trouble: the object's, until shown otherwise
            log.warning("set aside s3://%s/%s: %s: %s", event.bucket, event.key, type(err).__name__, err)
            self._set_aside(event, type(err).__name__, f"{type(err).__name__}: {err}"[:MAX_REASON])
            return
        log.info(
            "%s s3://%s/%s: %d rows, %d stored, %d refused, %d verdicts forwarded",
            outcome.outcome,
            event.bucket,
            event.key,
            outcome.records,
            outcome.stored,
            outcome.refused,
            outcome.forwarded,
        )
        self.counts.forwarded += outcome.forwarded
        if outcome.outcome == "duplicate":
            self.counts.duplicates += 1
        else:
            self.counts.rows_refused += outcome.refused
            self.counts.imported += 1
            self.counts.records += outcome.records
            self.counts.keys.append(event.key)

    def _set_aside(
        self, event: ObjectCreated | None, error_type: str, reason: str, body: str | None = None
    ) -> None:
        record_set_aside(self.connect, event, error_type, reason, body)  # a database fault is transient
        self.counts.set_aside += 1
