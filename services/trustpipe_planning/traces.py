"""The loads simulated: the hourly burst of an hour's scored files, a steady near-real-time-like
stream of objects, and an idle day. Import times are drawn from a lognormal around the mean that
the importer's benchmark measured (P2 rows/s on ``ROWS_PER_OBJECT``-row files)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

from trustpipe_planning.scaling import Trace

ROWS_PER_OBJECT = 250_000
"""Rows per scored part file (spark_jobs.score_messages.ROWS_PER_OUTPUT_FILE)."""
MEASURED_IMPORT_ROWS_PER_S = 96_700.0
"""P2 on this project's reference machine (2 cores, loopback PostgreSQL) when bench/results.json
has no fresher figure."""
SPREAD = 0.35
"""Sigma of the lognormal import time: parts differ in size and the database in load."""
SCORING_LAG_SECONDS = 300
"""An hour's files land a few minutes after it closes (the scoring job's run)."""
DAY = 24 * 3600


def measured_rows_per_s(results: Path) -> tuple[float, str]:
    """One importer process's rows/s from ``make bench`` (bench/results.json, P2), or the recorded
    figure: the rate decoding in its own process, as the deployed units run one importer per core
    (P2's headline has decode worker processes)."""
    try:
        p2 = json.loads(results.read_text())["P2"]
        if "in_process_rows_per_s" in p2:
            return float(p2["in_process_rows_per_s"]), f"{results} (P2, decoding in process)"
        return float(p2["value"]), f"{results} (P2)"
    except (FileNotFoundError, KeyError, TypeError, ValueError):
        return MEASURED_IMPORT_ROWS_PER_S, "the recorded P2 figure (no bench/results.json)"


def _draw(rng: random.Random, mean: float) -> float:
    mu = math.log(mean) - SPREAD**2 / 2  # the lognormal's mean is exp(mu + sigma^2 / 2)
    return rng.lognormvariate(mu, SPREAD)


def hourly_burst(
    mean_seconds: float, objects_per_hour: int, hours: int = 24, seed: int = 1, publish_seconds: int = 60
) -> Trace:
    """Each hour's files land together a few minutes after the hour closes."""
    rng = random.Random(seed)
    arrivals = [
        (h * 3600 + SCORING_LAG_SECONDS + rng.randrange(publish_seconds), _draw(rng, mean_seconds))
        for h in range(hours)
        for _ in range(objects_per_hour)
    ]
    return Trace("hourly burst", hours * 3600, arrivals)


def steady(mean_seconds: float, objects_per_minute: float, seconds: int = DAY, seed: int = 2) -> Trace:
    """Objects arriving as a Poisson stream, like micro-batches of the near-real-time path."""
    rng = random.Random(seed)
    arrivals: list[tuple[int, float]] = []
    t = 0.0
    while True:
        t += rng.expovariate(objects_per_minute / 60)
        if t >= seconds:
            return Trace("steady", seconds, arrivals)
        arrivals.append((int(t), _draw(rng, mean_seconds)))


def idle(seconds: int = DAY) -> Trace:
    return Trace("idle day", seconds, [])
