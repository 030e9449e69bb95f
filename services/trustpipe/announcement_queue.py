"""A worker on a queue of the scored bucket's announcements (the importer's, the indexer's): it
long-polls SQS and handles each message's objects in turn while the message stays hidden, deletes
the message only when every object is done or set aside, hides it for a capped backoff when a
failure is transient (after the queue's maxReceiveCount it lands in the DLQ), and, stopping, hands
the messages it has not started back at once. What an object comes to, and where an unreadable
body is kept, is each worker's own (``consume``, ``malformed``, ``progress``)."""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from trustpipe.announcements import MalformedEventError, ObjectCreated, parse
from trustpipe.retry import Backoff
from trustpipe.telemetry import WorkerMetrics
from trustpipe.transient import is_transient

SQS_MAX_WAIT_SECONDS = 20  # ReceiveMessage long-poll maximum
SQS_MAX_MESSAGES = 10  # ReceiveMessage batch maximum
SQS_MAX_VISIBILITY_SECONDS = 12 * 60 * 60  # ChangeMessageVisibility maximum
RETRY_BASE_SECONDS, RETRY_CAP_SECONDS = 5, 300
BACKOFF = Backoff(RETRY_BASE_SECONDS, RETRY_CAP_SECONDS)

log = logging.getLogger("trustpipe.queue")


def retry_delay(receives: int, jitter: Callable[[], float] = random.random) -> int:
    """Whole seconds to hide a message after its ``receives``-th transient failure (SQS counts
    receives from 1): ``BACKOFF``."""
    return int(BACKOFF.delay(max(receives, 1) - 1, jitter))


@dataclass
class QueueCounts:
    """What every queue worker counts; each adds its own."""

    set_aside: int = 0
    retried: int = 0


CountsT = TypeVar("CountsT", bound=QueueCounts)


class AnnouncementQueue(Generic[CountsT]):
    """One worker process on one queue."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        counts: CountsT,
        visibility_timeout: int = 300,
        wait_seconds: int = SQS_MAX_WAIT_SECONDS,
        metrics: WorkerMetrics | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.sqs, self.queue_url, self.counts = sqs, queue_url, counts
        self.visibility_timeout, self.wait_seconds = visibility_timeout, wait_seconds
        self.metrics, self.jitter = metrics, jitter
        self.stopping = threading.Event()

    def consume(self, event: ObjectCreated) -> None:
        """Handle one announced object: raise only what is transient (the message is kept)."""
        raise NotImplementedError

    def malformed(self, message: dict[str, Any], err: MalformedEventError) -> None:
        """Keep a body that announces nothing readable, with its reason (the message is deleted)."""
        raise NotImplementedError

    def progress(self) -> tuple[int, int]:
        """(objects or rows done, things set aside) so far: a message's metrics are the difference."""
        raise NotImplementedError

    def install_signal_handlers(self) -> None:
        """SIGTERM (systemd stop, ASG termination hook) and SIGINT: finish the message at hand, stop."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())

    def run(self, once: bool = False) -> CountsT:
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
        """Handle what one message announces; delete it when done or set aside, keep it when transient."""
        before = self.progress()
        self._handle(message)
        if self.metrics is not None:
            done, aside = self.progress()
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
                self.malformed(message, err)
                events = []
            with self._heartbeat(message):
                for event in events:
                    self.consume(event)
        except Exception as err:
            if not is_transient(err):
                raise  # outside any object (a failed set-aside, a deletion): a fault to fix
            self._retry_later(message, err)
            return
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _retry_later(self, message: dict[str, Any], err: BaseException) -> None:
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        delay = retry_delay(receives, self.jitter)
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

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Hand back messages not started (stopping): visible again at once for other workers."""
        for message in messages:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )

    @contextmanager
    def _heartbeat(self, message: dict[str, Any]) -> Iterator[None]:
        """Keep the message invisible while a long object is handled."""
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
