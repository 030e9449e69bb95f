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


CACHE_SECONDS = 30.0
"""How long a scorer reuses an entity's counts (or the news that no build wrote any) before it
reads them again: senders repeat from batch to batch, and the counts change when a build or a
day's labels land, not within seconds."""
MAX_CACHED = 50_000
"""Entities a scorer keeps counts of at most (a few MiB): past it, the cache starts afresh, so
a flood of distinct hostile senders costs reads, never memory."""


@dataclass
class FreshCounters:
    """The counters of one scorer process, on ``client`` (a redis-py client, or a cluster one)."""

    client: Any
    retry_after: float = counters.RETRY_AFTER_SECONDS
    clock: Callable[[], float] = time.monotonic
    cache_seconds: float = CACHE_SECONDS
    degraded: int = 0
    """Messages scored with the snapshot because Redis did not answer (the metric's figure)."""
    _down_until: float = field(default=float("-inf"), init=False)
    _unbuilt_until: float = field(default=float("-inf"), init=False)
    _through: date | None = field(default=None, init=False)
    """The build the last read found: the next reads take its tiles only."""
    _cache: dict[tuple[str, str], tuple[counters.Counts, float]] = field(default_factory=dict, init=False)
    _expiry_set: dict[str, float] = field(default_factory=dict, init=False)
    """Seen tiles whose expiry this scorer set, and until when it need not set it again."""

    def reputation(
        self, artifact: ModelArtifact, batch: Sequence[tuple[str, Mapping[str, Any]]], today: date
    ) -> Reputation | None:
        """The current reputation tables for the (enterprise, message) pairs of a batch, their
        messages added to the ``seen`` tiles; None (score with the snapshot) when Redis is down or
        no build has written the tiles yet. Counts read in the last ``cache_seconds`` are reused."""
        now = self.clock()
        if not batch:
            return None
        if now < self._down_until:
            self.degraded += len(batch)
            return None
        suffixes = artifact.suffixes
        own = [(e, m, counters.entities(m, suffixes)) for e, m in batch]
        wanted = {pair for _, _, ents in own for pair in ents.items()}
        unbuilt = now < self._unbuilt_until
        missing = [] if unbuilt else sorted(p for p in wanted if self._cache.get(p, (None, -1.0))[1] <= now)
        try:
            if missing and self._through is None:  # a scorer's first read, or one after no build
                self._through = counters.current_build(self.client, today)
            through = self._through
            if missing and through is None:
                unbuilt, missing = True, []
                self._unbuilt_until = now + self.cache_seconds
            pipe = self.client.pipeline(transaction=False)
            pairs = counters.queue_read(pipe, missing, today, through) if missing and through else []
            counters.add_seen_of(pipe, own, self._expiry_was_set)
            replies = pipe.execute()
            counts = None
            if missing and through:
                read = replies[: 1 + len(pairs) * counters.reads_per_pair(today, through)]
                counts = counters.merge(pairs, read, today, through)
                if counts is None:  # a new build's mark since the last read: read its tiles
                    self._through = None  # (and the next read asks for the mark again)
                    counts = counters.read(self.client, pairs, today)
        except counters.unavailable() as err:
            self._down_until = self.clock() + self.retry_after
            self._expiry_set.clear()
            self.degraded += len(batch)
            log.warning("counters unavailable, scoring with the model's snapshot: %s", err)
            return None
        if unbuilt or (missing and not self._remember(counts, now)):
            return None
        return counters.reputation({p: self._cache[p][0] for p in wanted}, artifact.reputation.prior)

    def _expiry_was_set(self, key: str) -> bool:
        """Whether this scorer set ``key``'s expiry in the last ``cache_seconds`` (if not, it is
        about to, and remembers so): a tile a restarted Redis lost is made again, and its expiry
        with it, within that long."""
        now = self.clock()
        if self._expiry_set.get(key, float("-inf")) > now:
            return True
        if len(self._expiry_set) >= MAX_CACHED:
            self._expiry_set.clear()
        self._expiry_set[key] = now + self.cache_seconds
        return False

    def _remember(self, counts: dict[tuple[str, str], counters.Counts] | None, now: float) -> bool:
        """Cache the counts just read; False (and remembered a while) when no build wrote any."""
        if counts is None:
            self._unbuilt_until = now + self.cache_seconds
            return False
        if len(self._cache) + len(counts) > MAX_CACHED:
            self._cache.clear()
        expires = now + self.cache_seconds
        self._cache.update((p, (c, expires)) for p, c in counts.items())
        return True
