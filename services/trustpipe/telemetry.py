"""What the workers tell the on-call engineer: JSON logs (Powertools Logger) and, per batch, the
metrics `infra/modules/monitoring` alarms on (EMF, from Powertools' CloudWatch EMF provider).

Every worker emits ``Processed`` and ``Errors`` in namespace ``trustpipe/workers`` with the
dimension ``Service`` (scorer, importer, alerter): the names the error-rate alarms and the
dashboard use. The EMF documents go to a file the CloudWatch agent ships (a stream processor's
stdout carries the KCL's protocol, so nothing may be printed there).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

NAMESPACE = "trustpipe/workers"
SERVICE_DIMENSION = "Service"
PROCESSED = "Processed"
"""Records (or objects' records) a worker handled, set-aside ones included."""
ERRORS = "Errors"
"""Records a worker set aside (undecodable, unknown schema, unknown enterprise...)."""
SERVICES = ("scorer", "importer", "alerter")


def configure_logging(service: str, stream: IO[str] | None = None) -> Logger:
    """JSON lines for the service's own logger and every ``trustpipe.*`` logger, on ``stream``
    (default stderr)."""
    logger = Logger(service=service, logger_handler=logging.StreamHandler(stream or sys.stderr))
    names = {name for name in logging.root.manager.loggerDict if name.startswith("trustpipe")}
    copy_config_to_registered_loggers(source_logger=logger, include=names | {"trustpipe"})
    return logger


@dataclass
class WorkerMetrics:
    """One EMF document per batch, appended as a line to ``path`` (thread-safe)."""

    service: str
    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def batch(self, processed: int, errors: int, **extra: float) -> dict[str, Any]:
        """Record one batch's figures; the EMF document written."""
        emf = AmazonCloudWatchEMFProvider(
            namespace=NAMESPACE, default_dimensions={SERVICE_DIMENSION: self.service}
        )
        emf.add_metric(name=PROCESSED, unit="Count", value=processed)
        emf.add_metric(name=ERRORS, unit="Count", value=errors)
        for name, value in extra.items():
            emf.add_metric(name=name, unit="Count", value=value)
        doc = dict(emf.serialize_metric_set())
        with self._lock, self.path.open("a") as f:
            f.write(json.dumps(doc, separators=(",", ":")) + "\n")
        return doc


def totals(paths: list[Path]) -> dict[str, Any]:
    """Sum of the metrics in EMF files, and when the last batch was (epoch ms): a worker's health."""
    sums: dict[str, float] = {}
    last = 0
    for path in paths:
        for line in path.read_text().splitlines():
            try:
                doc = json.loads(line)
                names = [m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
            except (ValueError, KeyError, IndexError):
                continue
            for name in names:
                value = doc.get(name, 0)  # EMF carries a value or a list of values
                sums[name] = sums.get(name, 0) + sum(
                    map(float, value if isinstance(value, list) else [value])
                )
            last = max(last, int(doc["_aws"].get("Timestamp", 0)))
    return {"metrics": sums, "last_batch_ms": last or None}
