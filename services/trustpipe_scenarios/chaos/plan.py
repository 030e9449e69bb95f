"""What a seed decides: the hours, the disruptions and the fault windows, each at its time; and
the record of what the run carried out."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trustpipe.errors import UserError
from trustpipe.workers import SEARCH_WORKERS, STREAM_WORKERS
from trustpipe_emulation.fault_proxy import KINDS, Window
from trustpipe_scenarios.stream_demo import WORKER_SLOT
from trustpipe_stack.stack import LocalStack

WORKERS = {
    **{w.name: (*w.command, "--slot", WORKER_SLOT) for w in (*STREAM_WORKERS, *SEARCH_WORKERS)},
    # A short visibility timeout: a killed importer's message comes back in 20 s, not 5 min.
    "batch-importer": ("importer", "run", "--visibility-timeout", "20"),
    # The search store's batch path: the scored topic's second queue, as short-hidden.
    "queue-indexer": ("indexer", "run", "--source", "queue", "--visibility-timeout", "20"),
}
RESTART_SECONDS = 5.0
"""The worker units' ``RestartSec`` (ansible/roles/trustpipe_worker/templates)."""
POSTGRES_DOWN_SECONDS = 5.0
REDIS_DOWN_SECONDS = 5.0
"""How long the counters' redis-server stays down when restarted: batches meanwhile are scored
with the model's snapshot (``CountersDegraded``), and the restarted server, in memory only, holds
no tiles until the next build writes them."""
SERVERS = ("postgres", "redis")
"""The servers a run restarts (by pid, through the stack's server objects), besides the workers
it kills."""
FAULTED_SERVICES = ("kinesis", "dynamodb", "sqs", "s3")
WINDOW_SHARE = {"kinesis": (0.15, 0.3), "dynamodb": (0.05, 0.12), "sqs": (0.2, 0.35), "s3": (0.2, 0.35)}
"""A fault window's length, as a share of the run: DynamoDB sees requests every few milliseconds
(every daemon renews its leases and reports to its group's leader); Kinesis far less (one run
met five Kinesis requests in a 6.6-s window: a restarted daemon reads nothing for about 30 s and
the sensors put straight to the moto server), SQS and S3 only when a batch hour is imported or an
action sent."""
FIRST_HOUR = datetime(2031, 1, 1, tzinfo=UTC)
"""Chaos hours start here, far from the demo's, each seed its own range."""
HISTORY_HOURS = 2
MAX_BATCH_HOURS = 24
HOURS_PER_SEED = HISTORY_HOURS + MAX_BATCH_HOURS
"""Each seed's own hours (history, then batch hours): no two seeds land the same hour."""
POISON_SQS_BODY = '{"Records": "not a list"}'


@dataclass(frozen=True)
class Disruption:
    """At ``at`` seconds into the run: SIGKILL ``target`` (a worker) or restart it (one of
    ``SERVERS``)."""

    at: float
    target: str


@dataclass(frozen=True)
class Plan:
    """Everything a seed decides."""

    seed: int
    duration: float
    rate: float
    batch_scale: float
    hours: tuple[datetime, ...]
    batch_at: tuple[float, ...]
    disruptions: tuple[Disruption, ...]
    windows: tuple[Window, ...]


def plan(
    seed: int,
    duration: float,
    rate: float = 10.0,
    batch_hours: int = 1,
    batch_scale: float = 0.05,
    counters: bool = False,
) -> Plan:
    """The run ``seed`` stands for: which hours, when each disruption and fault window comes;
    with ``counters`` (the stack serves them), the counters' redis-server restarted too, at times
    of their own draw (a seed's other disruptions and windows stay what they were)."""
    if duration < 30:
        raise UserError(f"--duration must be at least 30 seconds, got {duration:g}")
    if not 1 <= batch_hours <= MAX_BATCH_HOURS:
        raise UserError(f"--batch-hours must be 1 to {MAX_BATCH_HOURS}, got {batch_hours}")
    rng = random.Random(seed)
    rounds = max(1, int(duration // 90))
    disruptions = [
        Disruption(round(rng.uniform(0.1, 0.8) * duration, 1), target)
        for target in [*WORKERS, "postgres"]
        for _ in range(rounds)
    ]
    if counters:
        own = random.Random(f"{seed}:redis")
        at = [round(own.uniform(0.1, 0.8) * duration, 1) for _ in range(rounds)]
        disruptions += [Disruption(t, "redis") for t in at]
    windows = [
        Window(
            service,
            kind,
            start := round(rng.uniform(0.05, 0.75) * duration, 1),
            round(start + rng.uniform(*WINDOW_SHARE[service]) * duration, 1),
            round(rng.uniform(0.2, 0.5), 2),
        )
        for service in FAULTED_SERVICES
        for kind in KINDS
        for _ in range(rounds)
    ]
    first = FIRST_HOUR + timedelta(hours=(seed % 10_000) * HOURS_PER_SEED + HISTORY_HOURS)
    return Plan(
        seed=seed,
        duration=duration,
        rate=rate,
        batch_scale=batch_scale,
        hours=tuple(first + timedelta(hours=n) for n in range(batch_hours)),
        batch_at=tuple(round(duration * (0.1 + 0.6 * n / batch_hours), 1) for n in range(batch_hours)),
        disruptions=tuple(sorted(disruptions, key=lambda d: d.at)),
        windows=tuple(sorted(windows, key=lambda w: w.start)),
    )


@dataclass
class Run:
    """What happened during the run: the disruptions carried out, failures of the run's own
    threads (which would make its figures meaningless)."""

    done: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stream_run_id: str = ""


def chaos_dir(stack: LocalStack, seed: int) -> Path:
    """Where a seed's run keeps its settings, schedule, workers' logs and figures."""
    return stack.state_dir / "chaos" / f"seed-{seed}"
