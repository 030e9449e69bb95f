"""A stream batch and its worker, with no runtime attached: the records, what a worker returns,
retries and the isolation of the record that fails. The KCL's shard processor
(``trustpipe_stream.processor``) and the Lambda handlers (``trustpipe_stream.lambda_batch``) run
the same workers through these; neither import the other's runtime (the Lambda zip carries no KCL).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from trustpipe.retry import Backoff
from trustpipe.transient import is_transient

log = logging.getLogger("trustpipe.stream")
T = TypeVar("T")

RETRY_BASE_SECONDS, RETRY_CAP_SECONDS = 0.5, 30.0
BACKOFF = Backoff(RETRY_BASE_SECONDS, RETRY_CAP_SECONDS)
REASON_MAX_CHARS = 2000
"""A set-aside record's reason is cut here: an error's message may quote a field of any size."""


@dataclass(frozen=True)
class StreamRecord:
    """One Kinesis record as the worker sees it."""

    data: bytes
    partition_key: str
    sequence_number: str
    sub_sequence_number: int
    arrived_ms: int
    shard_id: str = ""


@dataclass(frozen=True)
class Rejected:
    """A record the worker set aside, and why."""

    record: StreamRecord
    reason: str


class StreamWorker(Protocol):
    """What a stream worker (scorer, stream importer, alerter) gives the processor."""

    def process(self, records: Sequence[StreamRecord]) -> Sequence[Rejected]:
        """Handle a batch (in shard order); return the records that can never be processed."""
        ...

    def set_aside(self, shard_id: str, rejected: Sequence[Rejected]) -> None:
        """The error path: keep the rejected records with their reasons (a stream or a table)."""
        ...


class Interrupted(Exception):
    """A transient failure outlasted the retries at ``at``: the records before it are done (the
    ``rejected`` among them still to be set aside), ``at`` and those after it are not."""

    def __init__(self, at: StreamRecord, rejected: list[Rejected], cause: Exception) -> None:
        super().__init__(f"stopped at {at.sequence_number}: {reason_of(cause)}")
        self.at, self.rejected, self.cause = at, rejected, cause


def isolate(
    records: Sequence[StreamRecord], attempt: Callable[[Sequence[StreamRecord]], Sequence[Rejected]]
) -> list[Rejected]:
    """What ``records`` rejected: ``attempt`` (the worker's ``process`` with the runtime's
    retries) on the whole batch; a batch that fails with an error of the input's is halved until
    the failing record stands alone, and that record is rejected with the error as its reason
    while its neighbours are processed. A transient error that ``attempt`` gave up on raises
    ``Interrupted`` at the first record not done."""
    try:
        return list(attempt(records))
    except Exception as err:
        if is_transient(err):
            raise Interrupted(records[0], [], err) from err
        if len(records) == 1:
            log.warning(
                "shard %s: record %s set aside: %s",
                records[0].shard_id or "?",
                records[0].sequence_number,
                reason_of(err),
            )
            return [Rejected(records[0], reason_of(err))]
        log.info(
            "shard %s: batch of %d from %s failed (%s); splitting it to find the record",
            records[0].shard_id or "?",
            len(records),
            records[0].sequence_number,
            type(err).__name__,
        )
    half = len(records) // 2
    first = isolate(records[:half], attempt)
    try:
        return first + isolate(records[half:], attempt)
    except Interrupted as stop:
        raise Interrupted(stop.at, first + stop.rejected, stop.cause) from stop.cause


def with_retries(
    attempt: Callable[[], T],
    sleep: Callable[[float], None],
    warn: Callable[[int, Exception, float], None],
    attempts: int | None = None,
    jitter: Callable[[], float] = random.random,
    retry: Callable[[Exception], bool] = lambda _err: True,
) -> T:
    """``attempt()`` until it returns, waiting ``BACKOFF`` after each failure (``warn`` told
    the failure count, the error and the wait); after ``attempts`` failures (None: never), or at
    once for an error ``retry`` refuses, the error is raised."""
    failures = 0
    while True:
        try:
            return attempt()
        except Exception as err:
            if not retry(err) or (attempts is not None and failures >= attempts - 1):
                raise
            delay = BACKOFF.delay(failures, jitter)
            failures += 1
            warn(failures, err, delay)
            sleep(delay)


def reason_of(err: BaseException) -> str:
    """``<error class>: <message>`` as a set-aside reason: cut to ``REASON_MAX_CHARS``, NULs and
    lone surrogates escaped (the error paths' stores refuse them)."""
    text = f"{type(err).__name__}: {err}"[:REASON_MAX_CHARS]
    return text.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\x00")
