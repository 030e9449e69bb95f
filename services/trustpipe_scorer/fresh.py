"""The scorer's counters (``trustpipe.counters``): per batch, one pipelined round trip to Redis
that adds the batch's messages to today's ``seen`` tiles and reads the window's counts of every
sender domain and /24 in it. When Redis does not answer, the batch is scored with the artifact's
snapshot instead (degraded, counted, never stopped), and Redis is not asked again for
``RETRY_AFTER_SECONDS``, so that a dead Redis costs one timeout, not one per batch."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from trustpipe import counters
from trustpipe.model.artifact import ModelArtifact
from trustpipe.model.features import Reputation

log = logging.getLogger("trustpipe.scorer")


@dataclass
class FreshCounters:
    """The counters of one scorer process, on ``client`` (a redis-py client, or a cluster one)."""

    client: Any
    retry_after: float = counters.RETRY_AFTER_SECONDS
    clock: Callable[[], float] = time.monotonic
    degraded: int = 0
    """Messages scored with the snapshot because Redis did not answer (the metric's figure)."""
    _down_until: float = field(default=float("-inf"), init=False)

    def reputation(
        self, artifact: ModelArtifact, batch: Sequence[tuple[str, Mapping[str, Any]]], today: date
    ) -> Reputation | None:
        """The current reputation tables for the (enterprise, message) pairs of a batch, their
        messages added to the ``seen`` tiles; None (score with the snapshot) when Redis is down or
        no build has written the tiles yet."""
        if not batch:
            return None
        if self.clock() < self._down_until:
            self.degraded += len(batch)
            return None
        suffixes = artifact.suffixes
        wanted = [pair for _, m in batch for pair in counters.entities(m, suffixes).items()]
        try:
            pipe = self.client.pipeline(transaction=False)
            pairs = counters.queue_read(pipe, wanted, today)
            counters.add_seen(pipe, ((e, m, suffixes) for e, m in batch))
            replies = pipe.execute()
        except counters.unavailable() as err:
            self._down_until = self.clock() + self.retry_after
            self.degraded += len(batch)
            log.warning("counters unavailable, scoring with the model's snapshot: %s", err)
            return None
        counts = counters.merge(pairs, replies, today)
        return None if counts is None else counters.reputation(counts, artifact.reputation.prior)
