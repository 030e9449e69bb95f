"""P1c: P1's scorer with the model's counters on a real redis-server (``trustpipe_scorer.fresh``:
one pipelined round trip per batch that reads the batch's sender domains and /24s and adds its
messages to today's ``seen`` tiles) against bare fastavro decode + encode of the same records,
and the round trip's p99 per batch.

The tiles are a build's: a window for every sender domain and /24 of the records, marked built
through today. Each timed pass starts a scorer with an empty cache, as fresh traffic meets one:
within the pass its senders repeat from batch to batch and the 30 s cache serves them, as in a
scorer's life. The server is the test suite's stack's when given (in a database of the benchmarks' own), else
one of this run's own, stopped by its pid."""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from bench import p1_scorer
from bench.harness import NOTHING, Result, Shared, rates, redis_url
from bench.p1a_codec import Size
from trustpipe import counters
from trustpipe.model.artifact import ModelArtifact
from trustpipe.model.features import Reputation
from trustpipe_scorer.fresh import FreshCounters
from trustpipe_sensors.handmade_model import artifact

NEEDS: tuple[str, ...] = ("stack",)
FULL, SMOKE = p1_scorer.FULL, p1_scorer.SMOKE


class TimedCounters(FreshCounters):
    """The scorer's counters, each batch's lookup (its round trip and merge) timed."""

    def __init__(self, client: Any, lookups: list[float]) -> None:
        super().__init__(client)
        self.lookups = lookups

    def reputation(
        self, artifact: ModelArtifact, batch: Sequence[tuple[str, Mapping[str, Any]]], today: date
    ) -> Reputation | None:
        began = time.perf_counter()
        try:
            return super().reputation(artifact, batch, today)
        finally:
            self.lookups.append(time.perf_counter() - began)


def write_tiles(client: Any, records: list[dict], today: date) -> int:
    """A build's windows for every sender domain and /24 of ``records`` (counts that give each a
    reputation of its own), marked built through ``today``; how many entities."""
    suffixes = artifact().suffixes
    wanted = sorted({pair for r in records for pair in counters.entities(r, suffixes).items()})
    windows = [(a, e, 20 + i % 50, i % 7) for i, (a, e) in enumerate(wanted)]
    counters.write_build(client, [], today, windows)
    return len(wanted)


def run(size: Size = FULL, shared: Shared = NOTHING) -> list[Result]:
    w = p1_scorer.workload(size)
    plain = w.worker(None)
    lookups: list[float] = []
    with redis_url(shared) as url:
        client = counters.client(url)
        entities = write_tiles(client, w.records, datetime.now(UTC).date())

        def with_counters() -> int:
            fresh = TimedCounters(client, lookups)
            scored = p1_scorer.score_all(w.worker(fresh), w.stream)
            if fresh.degraded:
                raise RuntimeError(f"{fresh.degraded} records scored without the counters")
            return scored

        def without() -> int:
            return p1_scorer.score_all(plain, w.stream)

        measured = rates(
            {"bare": w.bare, "plain": without, "counters": with_counters},
            size.repeats,
            size.min_seconds,
        )
        client.close()
    ms = sorted(1000 * s for s in lookups)
    return [
        Result(
            "P1c",
            "scorer hot path per core with the counters on a local redis-server (a round trip per"
            " batch) vs fastavro",
            measured["counters"],
            measured["bare"],
            ">= 0.45",
            "records/s",
            {
                "records": len(w.stream),
                "batch": p1_scorer.BATCH,
                "entities_with_tiles": entities,
                "without_counters_ratio": round(measured["plain"] / measured["bare"], 3),
                "lookup_batches": len(ms),
                "lookup_p50_ms": round(statistics.median(ms), 2),
                "lookup_p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 2),
            },
        ),
    ]
