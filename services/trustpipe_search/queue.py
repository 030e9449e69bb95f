"""The indexer on the batch path: long-polls its own queue (a second subscription to the scored
bucket's topic), indexes each announced object's scored messages, and deletes the message only
after the bulk answered for every document. What cannot be indexed (an unreadable object, a
refused document) is set aside with its reason in the archive bucket and the message deleted;
a transient failure (the cluster unreachable or still throttling, S3 down) keeps the message,
hidden for a capped backoff, and after the queue's maxReceiveCount it lands in the DLQ."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch

from trustpipe.announcement_queue import SQS_MAX_WAIT_SECONDS, AnnouncementQueue, QueueCounts
from trustpipe.announcements import MalformedEventError, ObjectCreated
from trustpipe.telemetry import WorkerMetrics
from trustpipe.transient import is_transient
from trustpipe_search import aside
from trustpipe_search.indexing import Outcome, index_all
from trustpipe_search.objects import UnreadableObjectError, downloaded, scored_chunks

log = logging.getLogger("trustpipe.indexer")

MAX_REASON = 2_000
MALFORMED_KEY = "malformed-messages"
"""Where a body that announces nothing readable is kept (with the SQS message id as its etag)."""


@dataclass
class Counts(QueueCounts):
    """``set_aside`` counts objects, bodies and documents set aside."""

    objects: int = 0
    indexed: int = 0
    superseded: int = 0


class QueueIndexer(AnnouncementQueue[Counts]):
    """One indexer process on the queue."""

    def __init__(
        self,
        sqs: Any,
        s3: Any,
        client: OpenSearch,
        queue_url: str,
        archive_bucket: str,
        wait_seconds: int = SQS_MAX_WAIT_SECONDS,
        visibility_timeout: int = 300,
        refresh: bool = False,
        metrics: WorkerMetrics | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(sqs, queue_url, Counts(), visibility_timeout, wait_seconds, metrics, jitter)
        self.s3, self.client, self.archive_bucket, self.refresh = s3, client, archive_bucket, refresh

    def progress(self) -> tuple[int, int]:
        return self.counts.indexed + self.counts.superseded, self.counts.set_aside

    def malformed(self, message: dict[str, Any], err: MalformedEventError) -> None:
        aside.keep_object(self.s3, self.archive_bucket, MALFORMED_KEY, message["MessageId"], str(err))
        self.counts.set_aside += 1

    def consume(self, event: ObjectCreated) -> None:
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
