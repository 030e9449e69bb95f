"""What the workers tell the on-call engineer: JSON logs (Powertools Logger) and, per batch, the
metrics `infra/modules/monitoring` alarms on (EMF, from Powertools' CloudWatch EMF provider).

Every worker emits ``Processed``, ``Errors``, ``LagSeconds`` per batch and a ``Heartbeat`` at
least every ``HEARTBEAT_SECONDS`` while it runs, busy or idle (``trustpipe.metrics`` names them).
The EMF documents go to a file the CloudWatch agent ships (a stream processor's stdout carries
the KCL's protocol, so nothing may be printed there).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from trustpipe import metrics
from trustpipe.metrics import Metric

HEARTBEAT_SECONDS = 30.0
"""At most this long between two heartbeats of a running worker (the silence alarm's period is
60 s: every minute it runs holds at least one)."""


def configure_logging(service: str, stream: IO[str] | None = None) -> Logger:
    """JSON lines for the service's own logger and every ``trustpipe.*`` logger, on ``stream``
    (default stderr)."""
    logger = Logger(service=service, logger_handler=logging.StreamHandler(stream or sys.stderr))
    names = {name for name in logging.root.manager.loggerDict if name.startswith("trustpipe")}
    copy_config_to_registered_loggers(source_logger=logger, include=names | {"trustpipe"})
    return logger


@dataclass
class WorkerMetrics:
    """EMF documents, one line each, appended to ``path`` (thread-safe): one per batch, and a
    heartbeat when the worker has written nothing for ``HEARTBEAT_SECONDS``."""

    service: str
    path: Path
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _last: float | None = field(default=None, init=False)

    def batch(
        self,
        processed: int,
        errors: int,
        lag_seconds: float | None = None,
        more: Iterable[tuple[Metric, float]] = (),
    ) -> dict[str, Any]:
        """Record one batch's figures (and a heartbeat), with the worker's own (``more``); the
        EMF document written."""
        values: list[tuple[Metric, float]] = [
            (metrics.PROCESSED, processed),
            (metrics.ERRORS, errors),
            (metrics.HEARTBEAT, 1),
            *more,
        ]
        if lag_seconds is not None:
            values.append((metrics.LAG, max(0.0, lag_seconds)))
        return self._write(values)

    def alive(self) -> dict[str, Any] | None:
        """Called from the worker's poll loop: a heartbeat if none was written for a while."""
        last = self._last
        if last is not None and self.clock() - last < HEARTBEAT_SECONDS:
            return None
        return self._write([(metrics.HEARTBEAT, 1)])

    def _write(self, values: list[tuple[Metric, float]]) -> dict[str, Any]:
        emf = AmazonCloudWatchEMFProvider(
            namespace=metrics.WORKERS, default_dimensions={"Service": self.service}
        )
        for metric, value in values:
            assert metric.namespace == metrics.WORKERS and metric.dimensions == ("Service",)
            emf.add_metric(name=metric.name, unit=metric.unit, value=value)
        doc = dict(emf.serialize_metric_set())
        with self._lock, self.path.open("a") as f:
            f.write(json.dumps(doc, separators=(",", ":")) + "\n")
            self._last = self.clock()
        return doc


def read_emf(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """The EMF documents in ``paths`` (lines with a ``CloudWatchMetrics`` directive); other lines,
    a half-written last one among them, are skipped."""
    for path in paths:
        for line in path.read_text().splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if (
                isinstance(doc, dict)
                and isinstance(doc.get("_aws"), dict)
                and doc["_aws"].get("CloudWatchMetrics")
            ):
                yield doc


def emf_values(doc: dict[str, Any], name: str) -> list[float]:
    """Metric ``name``'s values in an EMF document (it carries a value or a list of them)."""
    value = doc.get(name, [])
    return [float(v) for v in (value if isinstance(value, list) else [value])]


def totals(paths: list[Path]) -> dict[str, Any]:
    """Sum of the metrics in EMF files, and when the last batch was (epoch ms): a worker's health."""
    sums: dict[str, float] = {}
    last = 0
    for doc in read_emf(paths):
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive.get("Metrics", []):
                sums[metric["Name"]] = sums.get(metric["Name"], 0) + sum(emf_values(doc, metric["Name"]))
        last = max(last, int(doc["_aws"].get("Timestamp", 0)))
    return {"metrics": sums, "last_batch_ms": last or None}
