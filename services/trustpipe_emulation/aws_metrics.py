"""The metrics AWS publishes about its own services, published by the local stack's moto server.

On AWS, SQS and Kinesis put their metrics into CloudWatch themselves, and the monitoring module's
alarms on the importer's queues and the streams read them. The moto server publishes only
Kinesis's ``IncomingBytes`` / ``IncomingRecords``, so those alarms could never fire locally. This
module runs inside the moto server (``moto_h2c``) and publishes, every ``interval`` seconds, what
AWS would from the server's own state:

- ``AWS/SQS`` per ``QueueName``: ``ApproximateNumberOfMessagesVisible``, ``...NotVisible``,
  ``...Delayed`` and ``ApproximateAgeOfOldestMessage`` (seconds; the oldest message not yet
  deleted, in flight or not);
- ``AWS/Kinesis`` per ``StreamName``: ``GetRecords.IteratorAgeMilliseconds``, as AWS counts it:
  at each GetRecords call, the age of the last record it returned (0 when it returned none); the
  largest of the interval. A consumer that stopped calling leaves no datapoint, as on AWS (the
  workers' heartbeat alarm pages that case).

Values are read from moto's in-process backends, never through the API: a receive to look at a
queue would count as a delivery and could move its messages to the dead-letter queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 10.0
"""Several datapoints in each of the alarms' one-minute periods, so a test sees one soon."""
KEEP_SECONDS = 6 * 3600
"""moto keeps every datapoint for the server's life; AWS's own ones (these and moto's Kinesis
``Incoming*``) are dropped after this, so a stack left running does not grow without end."""
SQS = "AWS/SQS"
KINESIS = "AWS/Kinesis"
ITERATOR_AGE = "GetRecords.IteratorAgeMilliseconds"

Clock = Callable[[], float]


@dataclass(frozen=True)
class Datum:
    account: str
    region: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    value: float
    unit: str


def queue_metrics(now: float) -> Iterator[Datum]:
    """Every queue's counts and its oldest message's age, at epoch seconds ``now``."""
    from moto.sqs.models import sqs_backends

    for account, regions in list(sqs_backends.items()):
        for region, backend in list(regions.items()):
            for queue in list(backend.queues.values()):
                messages: list[Any] = list(queue._messages)  # moto types sent_timestamp as None
                dims = (("QueueName", queue.name),)
                sent = [int(m.sent_timestamp) for m in messages if m.sent_timestamp is not None]
                oldest = min(sent, default=None)
                counts = {
                    "ApproximateNumberOfMessagesVisible": sum(
                        1 for m in messages if m.visible and not m.delayed
                    ),
                    "ApproximateNumberOfMessagesNotVisible": sum(1 for m in messages if not m.visible),
                    "ApproximateNumberOfMessagesDelayed": sum(1 for m in messages if m.delayed),
                }
                for name, count in counts.items():
                    yield Datum(account, region, SQS, name, dims, float(count), "Count")
                age = 0.0 if oldest is None else max(0.0, now - oldest / 1000)
                yield Datum(
                    account, region, SQS, "ApproximateAgeOfOldestMessage", dims, float(int(age)), "Seconds"
                )


class IteratorAges:
    """The largest GetRecords iterator age per stream since the last ``drain``, recorded by a
    wrapper around moto's Kinesis ``get_records``."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._largest: dict[tuple[str, str, str], float] = {}

    def observe(self, account: str, region: str, stream: str, records: Sequence[Any]) -> None:
        last = records[-1] if records else None  # the one AWS counts
        age_ms = 0.0 if last is None else max(0.0, (self._clock() - last.created_at) * 1000)
        key = (account, region, stream)
        with self._lock:
            self._largest[key] = max(age_ms, self._largest.get(key, 0.0))

    def drain(self) -> Iterator[Datum]:
        with self._lock:
            largest, self._largest = self._largest, {}
        for (account, region, stream), age_ms in largest.items():
            yield Datum(
                account,
                region,
                KINESIS,
                ITERATOR_AGE,
                (("StreamName", stream),),
                round(age_ms),
                "Milliseconds",
            )

    def install(self) -> None:
        """Wrap moto's ``KinesisBackend.get_records``: calls from now on are observed here."""
        from moto.kinesis import models
        from moto.kinesis.utils import decompose_shard_iterator

        current = models.KinesisBackend.get_records
        original = getattr(current, "__wrapped__", current)

        def get_records(backend: Any, stream_arn: str | None, shard_iterator: str, limit: int | None) -> Any:
            result = original(backend, stream_arn, shard_iterator, limit)
            stream = (
                stream_arn.rsplit("/", 1)[-1] if stream_arn else decompose_shard_iterator(shard_iterator)[0]
            )
            self.observe(backend.account_id, backend.region_name, stream, result[1])
            return result

        get_records.__wrapped__ = original  # type: ignore[attr-defined]
        models.KinesisBackend.get_records = get_records  # type: ignore[method-assign,assignment]


def publish(data: Iterable[Datum], at: datetime) -> int:
    """Put ``data`` into moto's CloudWatch (per account and region), timestamped ``at``."""
    from moto.cloudwatch.models import cloudwatch_backends

    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for d in data:
        grouped.setdefault((d.account, d.region, d.namespace), []).append(
            {
                "MetricName": d.name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in d.dimensions],
                "Value": d.value,
                "Unit": d.unit,
                "Timestamp": at.astimezone(UTC).replace(tzinfo=None),  # moto keeps naive UTC
            }
        )
    for (account, region, namespace), items in grouped.items():
        cloudwatch_backends[account][region].put_metric_data(namespace, items)
    return sum(len(items) for items in grouped.values())


def forget_before(cutoff: datetime) -> int:
    """Drop AWS's own datapoints (``AWS/SQS``, ``AWS/Kinesis``) older than ``cutoff``; the code's
    own metrics stay (an hour's delay may be put for an hour long past)."""
    from moto.cloudwatch.models import cloudwatch_backends

    naive = cutoff.astimezone(UTC).replace(tzinfo=None)
    dropped = 0
    for regions in list(cloudwatch_backends.values()):
        for backend in list(regions.values()):
            data = backend.metric_data
            n = len(data)
            head = data[:n]
            kept = [m for m in head if m.namespace not in (SQS, KINESIS) or _naive(m.timestamp) >= naive]
            data[:n] = kept  # one step: datapoints appended meanwhile (past n) stay
            dropped += n - len(kept)
    return dropped


def _naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


class Publisher:
    """A daemon thread in the moto server: every ``interval`` s, the queues' metrics and the
    streams' iterator ages into CloudWatch."""

    def __init__(self, interval: float = DEFAULT_INTERVAL_SECONDS, clock: Clock = time.time) -> None:
        self.interval = interval
        self.clock = clock
        self.ages = IteratorAges(clock)

    def start(self) -> None:
        """The thread ends with the server's process (a daemon thread)."""
        self.ages.install()
        threading.Thread(target=self._run, name="aws-metrics", daemon=True).start()

    def tick(self) -> int:
        now = datetime.fromtimestamp(self.clock(), UTC)
        forget_before(now - timedelta(seconds=KEEP_SECONDS))
        return publish([*queue_metrics(now.timestamp()), *self.ages.drain()], now)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.tick()
            except Exception:  # a bad tick must not stop the server or the next tick
                log.exception("publishing AWS's metrics failed; trying again in %.0f s", self.interval)
