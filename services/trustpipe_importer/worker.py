"""The importer worker: long-polls SQS, imports each announced object, deletes the message only
after commit and forward. Bad input (an object, or one row of it) is set aside with its reason
and the message deleted (it never loops), as is an object whose import fails for any reason that
is not transient; transient failures (``trustpipe.transient``, and verdicts stored but not yet
forwarded) are retried with capped backoff and, after the queue's maxReceiveCount, land in its
DLQ."""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from trustpipe.announcements import MalformedEventError, ObjectCreated, parse
from trustpipe.db.partitions import DayPartitions
from trustpipe.retry import Backoff
from trustpipe.telemetry import WorkerMetrics
from trustpipe.transient import is_transient
from trustpipe_importer.blocks import DecodePool
from trustpipe_importer.load import Connect, Forward, UnimportableObjectError, import_object, record_set_aside

SQS_MAX_WAIT_SECONDS = 20  # ReceiveMessage long-poll maximum
SQS_MAX_MESSAGES = 10  # ReceiveMessage batch maximum
SQS_MAX_VISIBILITY_SECONDS = 12 * 60 * 60  # ChangeMessageVisibility maximum
RETRY_BASE_SECONDS, RETRY_CAP_SECONDS = 5, 300
BACKOFF = Backoff(RETRY_BASE_SECONDS, RETRY_CAP_SECONDS)

log = logging.getLogger("trustpipe.importer")
MAX_REASON = 2_000
"""Characters of an unexpected error kept as an object's set-aside reason."""


def retry_delay(receives: int, jitter: Callable[[], float] = random.random) -> int:
    """Whole seconds to hide a message after its ``receives``-th transient failure (SQS counts
    receives from 1): ``BACKOFF``."""
    return int(BACKOFF.delay(max(receives, 1) - 1, jitter))


@dataclass
class Counts:
    imported: int = 0
    duplicates: int = 0
    set_aside: int = 0
    retried: int = 0
    records: int = 0
    rows_refused: int = 0
    """Rows PostgreSQL refused, set aside one by one (their objects still imported)."""
    forwarded: int = 0
    keys: list[str] = field(default_factory=list)


class Importer:
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
        self.sqs, self.s3, self.connect, self.queue_url = sqs, s3, connect, queue_url
        self.forward = forward
        """Where imported QUARANTINE/LABEL verdicts go (the imported stream, for the alerters)."""
        self.decode = decode
        """Worker processes that decode a large object's blocks (None: this process decodes)."""
        self.days = days or DayPartitions()
        """The store's day partitions this worker has seen or made."""
        self.metrics = metrics
        self.visibility_timeout = visibility_timeout
        self.wait_seconds = wait_seconds
        self.stopping = threading.Event()
        self.counts = Counts()

    def install_signal_handlers(self) -> None:
        """SIGTERM (systemd stop, ASG termination hook) and SIGINT: finish the message at hand, stop."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())

    def run(self, once: bool = False) -> Counts:
        """Poll until stopped; with ``once``, until a poll comes back empty."""
        while not self.stopping.is_set():
            if self.metrics is not None:
                self.metrics.alive()
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=SQS_MAX_MESSAGES,
                WaitTimeSeconds=self.wait_seconds,
                VisibilityTimeout=self.visibility_timeout,
                AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            ).get("Messages", [])
            if not messages and once:
                break
            for n, message in enumerate(messages):
                if self.stopping.is_set():
                    self._release(messages[n:])
                    break
                self.handle(message)
        return self.counts

    def handle(self, message: dict[str, Any]) -> None:
        """Import what one message announces; delete it when done or set aside, keep it when transient."""
        before = (self.counts.imported + self.counts.duplicates, self.counts.set_aside)
        self._handle(message)
        if self.metrics is not None:
            done, aside = self.counts.imported + self.counts.duplicates, self.counts.set_aside
            if (done, aside) != before:
                sent = message.get("Attributes", {}).get("SentTimestamp")
                lag = time.time() - int(sent) / 1000 if sent else None
                self.metrics.batch(processed=done - before[0], errors=aside - before[1], lag_seconds=lag)

    def _handle(self, message: dict[str, Any]) -> None:
        try:
            try:
                events = parse(message["Body"])
            except MalformedEventError as err:
                log.info("set aside message %s: %s", message["MessageId"], err)
                self._set_aside(None, type(err).__name__, str(err), body=message["Body"])
                events = []
            with self._heartbeat(message):
                for event in events:
                    self._import(event)
        except Exception as err:
            if not is_transient(err):
                raise  # outside any object (a failed set-aside, a deletion): a fault to fix
            self._retry_later(message, err)
            return
        self._delete(message)

    def _import(self, event: ObjectCreated) -> None:
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

    def _retry_later(self, message: dict[str, Any], err: BaseException) -> None:
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        delay = retry_delay(receives)
        log.warning(
            "transient failure on %s (receive %d), retry in %ds: %s",
            message["MessageId"],
            receives,
            delay,
            err,
        )
        self.counts.retried += 1
        with contextlib.suppress(BotoCoreError, ClientError):  # the visibility timeout returns it anyway
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=delay
            )

    def _delete(self, message: dict[str, Any]) -> None:
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Hand back messages not started (stopping): visible again at once for other workers."""
        for message in messages:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )

    @contextmanager
    def _heartbeat(self, message: dict[str, Any]) -> Iterator[None]:
        """Keep the message invisible while a long import runs."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.visibility_timeout / 2):
                try:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=min(self.visibility_timeout, SQS_MAX_VISIBILITY_SECONDS),
                    )
                except (BotoCoreError, ClientError) as err:
                    log.warning("could not extend visibility of %s: %s", message["MessageId"], err)

        thread = threading.Thread(target=beat, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
