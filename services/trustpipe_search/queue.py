"""The indexer on the batch path: long-polls its own queue (a second subscription to the scored
bucket's topic), indexes each announced object's scored messages, and deletes the message only
after the bulk answered for every document. What cannot be indexed (an unreadable object, a
refused document) is set aside with its reason in the archive bucket and the message deleted;
a transient failure (the cluster unreachable or still throttling, S3 down) keeps the message,
hidden for a capped backoff, and after the queue's maxReceiveCount it lands in the DLQ."""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from opensearchpy import OpenSearch

from trustpipe.announcements import MalformedEventError, ObjectCreated, parse
from trustpipe.retry import Backoff
from trustpipe.telemetry import WorkerMetrics
from trustpipe.transient import is_transient
from trustpipe_search import aside
from trustpipe_search.indexing import Outcome, index_all
from trustpipe_search.objects import UnreadableObjectError, downloaded, scored_chunks

log = logging.getLogger("trustpipe.indexer")

SQS_MAX_WAIT_SECONDS = 20  # ReceiveMessage long-poll maximum
SQS_MAX_MESSAGES = 10  # ReceiveMessage batch maximum
BACKOFF = Backoff(5, 300)
MAX_REASON = 2_000
MALFORMED_KEY = "malformed-messages"
"""Where a body that announces nothing readable is kept (with the SQS message id as its etag)."""


@dataclass
class Counts:
    objects: int = 0
    indexed: int = 0
    superseded: int = 0
    set_aside: int = 0
    """Objects, bodies and documents set aside."""
    retried: int = 0


@dataclass
class QueueIndexer:
    """One indexer process on the queue."""

    sqs: Any
    s3: Any
    client: OpenSearch
    queue_url: str
    archive_bucket: str
    wait_seconds: int = SQS_MAX_WAIT_SECONDS
    visibility_timeout: int = 300
    refresh: bool = False
    metrics: WorkerMetrics | None = None
    jitter: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        self.counts = Counts()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT: finish the message at hand, stop."""
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
                AttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])
            if not messages and once:
                break
            for message in messages:
                if self.stopping.is_set():
                    break  # the rest come back when their visibility timeout ends
                self.handle(message)
        return self.counts

    def handle(self, message: dict[str, Any]) -> None:
        """Index what one message announces; delete it when done or set aside, keep it when transient."""
        before = (self.counts.indexed + self.counts.superseded, self.counts.set_aside)
        try:
            try:
                events = parse(message["Body"])
            except MalformedEventError as err:
                log.info("set aside message %s: %s", message["MessageId"], err)
                aside.keep_object(self.s3, self.archive_bucket, MALFORMED_KEY, message["MessageId"], str(err))
                self.counts.set_aside += 1
                events = []
            with self._heartbeat(message):
                for event in events:
                    self._index(event)
        except Exception as err:
            if not is_transient(err):
                raise
            self._retry_later(message, err)
            return
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        if self.metrics is not None:
            done = self.counts.indexed + self.counts.superseded - before[0]
            self.metrics.batch(processed=done, errors=self.counts.set_aside - before[1])

    def _index(self, event: ObjectCreated) -> None:
        try:
            with downloaded(self.s3, event.bucket, event.key) as fo:
                outcome = index_all(self.client, scored_chunks(fo), refresh=self.refresh)
        except Exception as err:
            if is_transient(err):
                raise
            # named bad input, or neither it nor the world's trouble: the object's until shown otherwise
            reason = str(err) if isinstance(err, UnreadableObjectError) else f"{type(err).__name__}: {err}"
            log.info("set aside s3://%s/%s: %s", event.bucket, event.key, reason)
            aside.keep_object(self.s3, self.archive_bucket, event.key, event.etag, reason[:MAX_REASON])
            self.counts.set_aside += 1
            return
        self._done(event, outcome)

    def _done(self, event: ObjectCreated, outcome: Outcome) -> None:
        if outcome.refused:
            aside.keep_rows(self.s3, self.archive_bucket, event.key, event.etag, outcome.refused)
        log.info(
            "indexed s3://%s/%s: %d written, %d already there, %d refused",
            event.bucket,
            event.key,
            outcome.written,
            outcome.superseded,
            len(outcome.refused),
        )
        self.counts.objects += 1
        self.counts.indexed += outcome.written
        self.counts.superseded += outcome.superseded
        self.counts.set_aside += len(outcome.refused)

    @contextmanager
    def _heartbeat(self, message: dict[str, Any]) -> Iterator[None]:
        """Keep the message invisible while a large object is indexed (as the importer does)."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.visibility_timeout / 2):
                try:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=self.visibility_timeout,
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

    def _retry_later(self, message: dict[str, Any], err: BaseException) -> None:
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        delay = int(BACKOFF.delay(max(receives, 1) - 1, self.jitter))
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
