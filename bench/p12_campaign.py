"""P12: does freshness pay? A campaign starts mid-day from sender domains and networks never seen
(``trustpipe_sensors.campaign``), and at the same time a legitimate newcomer (a new partner's
first day, as unseen); the same day's traffic is scored twice, in arrival order, in
batches of a minute: with the model's frozen snapshot, and with the counters in Redis
(``trustpipe_scorer.fresh``: the build's tiles through yesterday plus the labels landed so far
today, ``counters.add_labels``). Figures: the minutes from the campaign's first message to its
first QUARANTINE in each arm, and the AUC of each on the day (held out: the model never saw it);
beside them, how many of each newcomer's messages each arm quarantined, and until when.

Labels land with the sensors' drops: a message's ground truth is counted at the end of the
quarter after its own (15 to 30 minutes after it arrived). A third pass (``hourly``) scores the
day again on the build's tiles alone, its labels counted as the deployed feed counts them: when
the hourly batch job has scored the message's hour (``HOURLY_JOB_LAG`` after the hour ends, one
hour 20 minutes to two hours 20 minutes after the message). At the full size the model is trained
by the nightly build on yesterday's traffic (local Spark, ``build_model.run``, its exact tiles
written as ``runner.build`` writes them); at the smoke size it is the simulator's hand-made model
over a build that saw nothing, and its figures mean nothing. The days are the real yesterday and
today (UTC): tiles expire at absolute times."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import NOTHING, Result, Shared, redis_url
from trustpipe import counters, layout
from trustpipe.model.artifact import ModelArtifact
from trustpipe.model.scorer import TrustModel
from trustpipe_scorer.fresh import FreshCounters
from trustpipe_sensors.campaign import Campaign, day_of_traffic
from trustpipe_sensors.generator import Labelled
from trustpipe_sensors.world import World

NEEDS: tuple[str, ...] = ("stack",)
WORLD = 3
"""The World P8's history is drawn from (``p8_model_build._write_history``): the model learns the
correspondents the day's traffic comes from."""
SEED = 11
REFERENCE_DAY = datetime(2026, 11, 21, tzinfo=UTC)
"""The day whose traffic is simulated (the same every run), moved to today."""
BATCH = timedelta(minutes=1)
LABEL_LAG_QUARTERS = 2
"""A label is counted at the start of the second quarter after the one its message arrived in."""
HOURLY_JOB_LAG = timedelta(minutes=20)
"""The deployed feed: the hourly batch job adds an hour's labels once it has scored the hour, taken
here as 20 minutes after the hour ends (the DAG's run starts when the hour closes)."""


@dataclass(frozen=True)
class Size:
    scale: float
    """Of the simulator's traffic (1.0: about 4,700 messages an hour)."""
    day_hours: int
    campaign_starts: timedelta
    """After the day's first hour."""
    per_quarter: int
    """Campaign messages a quarter to each enterprise."""
    trained: bool
    """A model the nightly build trains on yesterday (Spark), or the hand-made one."""


FULL = Size(scale=0.25, day_hours=24, campaign_starts=timedelta(hours=10), per_quarter=6, trained=True)
SMOKE = Size(scale=0.03, day_hours=2, campaign_starts=timedelta(minutes=30), per_quarter=3, trained=False)


def run(size: Size = FULL, shared: Shared = NOTHING) -> list[Result]:
    today = datetime.now(UTC).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    world = World.build(WORLD)
    campaign = Campaign.new(SEED, REFERENCE_DAY + size.campaign_starts, size.per_quarter)
    newcomer = Campaign.new(SEED, campaign.starts, size.per_quarter, malicious=False)
    traffic = day_of_traffic(world, [campaign, newcomer], REFERENCE_DAY, SEED, size.scale, size.day_hours)
    for m in traffic:  # the reference day's traffic, moved to today
        m.record["received_at"] += midnight - REFERENCE_DAY
    campaign = replace(campaign, starts=campaign.starts + (midnight - REFERENCE_DAY))
    with redis_url(shared) as url:
        client = counters.client(url)
        model, built = trained(midnight, size.scale, client) if size.trained else handmade(today, client)
        arms = score_day(model, traffic, today, client)
        # the same day again on the build's tiles alone, the labels landing as the hourly job adds them
        client.flushdb()
        counters.write_build(client, *built)
        arms["hourly"] = score_day(model, traffic, today, client, hourly_job_lands)["fresh"]
        client.close()
    frozen, fresh, hourly = (
        first_quarantine(traffic, arms[arm], campaign) for arm in ("frozen", "fresh", "hourly")
    )
    labels = [m.is_malicious for m in traffic]
    detail: dict[str, Any] = {
        "messages": len(traffic),
        "campaign_messages": sum(m.attack_type == "campaign" for m in traffic),
        "campaign_starts": campaign.starts.isoformat(),
        "model": model.version,
        "minutes_to_first_quarantine": {
            "frozen": _round(frozen),
            "fresh": _round(fresh),
            "hourly": _round(hourly),
        },
        "campaign_quarantined": {arm: quarantined(traffic, got, campaign) for arm, got in arms.items()},
        "newcomer_messages": sum(sender_of(m) in newcomer.domains for m in traffic),
        "newcomer_quarantined": {arm: quarantined(traffic, got, newcomer) for arm, got in arms.items()},
        "newcomer_last_quarantine_minutes": {
            arm: last_quarantine(traffic, got, newcomer) for arm, got in arms.items()
        },
    }
    never = 24 * 60.0  # a day's minutes: no QUARANTINE in the day
    auc = {arm: auc_of([s for s, _ in got], labels) for arm, got in arms.items()}
    return [
        Result(
            "P12",
            "minutes from a new campaign's first message to its first QUARANTINE (out with its batch),"
            " fresh vs the frozen snapshot (a day's minutes when none)",
            fresh if fresh is not None else never,
            frozen if frozen is not None else never,
            "report",
            "min",
            detail,
        ),
        Result(
            "P12a",
            "the day's AUC (held out), fresh counters vs the frozen snapshot",
            auc["fresh"],
            auc["frozen"],
            "report",
            "AUC",
            {"auc": {arm: round(a, 4) for arm, a in auc.items()}},
        ),
    ]


def score_day(
    model: ModelArtifact,
    traffic: list[Labelled],
    today: date,
    client: Any,
    lands: Callable[[Labelled], datetime] | None = None,
) -> dict[str, list[tuple[float, str]]]:
    """(score, verdict) of every message of ``traffic`` in each arm, in batches of a minute, the
    labels due by each batch's minute counted first."""
    scorer = TrustModel(model)
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    clock = [0.0]
    fresh = FreshCounters(client, clock=lambda: clock[0])
    lands = lands or label_lands
    due = sorted(range(len(traffic)), key=lambda i: lands(traffic[i]))
    landed = 0
    arms: dict[str, list[tuple[float, str]]] = {"frozen": [], "fresh": []}
    for batch in batches(traffic):
        now = minute_of(traffic[batch[0]])
        clock[0] = (now - midnight).total_seconds()
        ready = landed
        while ready < len(due) and lands(traffic[due[ready]]) <= now:
            ready += 1
        if ready > landed:
            pipe = client.pipeline(transaction=False)
            counters.add_labels(
                pipe,
                (
                    (
                        traffic[i].record["enterprise_id"],
                        traffic[i].record,
                        model.suffixes,
                        traffic[i].is_malicious,
                    )
                    for i in due[landed:ready]
                ),
            )
            pipe.execute()
            landed = ready
        records = [traffic[i].record for i in batch]
        reputation = fresh.reputation(model, [(r["enterprise_id"], r) for r in records], today)
        if reputation is None:
            raise RuntimeError("the counters gave no reputation: no build's tiles, or Redis did not answer")
        for r in records:
            for arm, rep in (("frozen", None), ("fresh", reputation)):
                v = scorer.score(r, rep)
                arms[arm].append((v.score, v.verdict))
    return arms


def batches(traffic: list[Labelled]) -> list[list[int]]:
    """Indices of ``traffic`` (in arrival order) grouped by the minute they arrived in."""
    out: list[list[int]] = []
    for i, m in enumerate(traffic):
        if out and minute_of(traffic[out[-1][0]]) == minute_of(m):
            out[-1].append(i)
        else:
            out.append([i])
    return out


def minute_of(m: Labelled) -> datetime:
    at: datetime = m.record["received_at"]
    return at.replace(second=0, microsecond=0)


def label_lands(m: Labelled) -> datetime:
    return layout.quarter_of(m.record["received_at"]) + layout.QUARTER * LABEL_LAG_QUARTERS


def hourly_job_lands(m: Labelled) -> datetime:
    at: datetime = m.record["received_at"]
    return at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1) + HOURLY_JOB_LAG


def first_quarantine(
    traffic: list[Labelled], verdicts: list[tuple[float, str]], campaign: Campaign
) -> float | None:
    """Minutes from the campaign's first message until the first of its messages was quarantined:
    to the end of the minute's batch it was scored in (a verdict is out once its batch is); None."""
    ours = [
        (m.record["received_at"], v)
        for m, (_, v) in zip(traffic, verdicts, strict=True)
        if m.attack_type == "campaign"
    ]
    if not ours:
        return None
    caught = [at for at, v in ours if v == "QUARANTINE"]
    if not caught:
        return None
    out = caught[0].replace(second=0, microsecond=0) + BATCH
    return (out - ours[0][0]).total_seconds() / 60


def _round(minutes: float | None) -> float | None:
    return None if minutes is None else round(minutes, 2)


def sender_of(m: Labelled) -> str:
    return str(m.record["from_address"]).rpartition("@")[2]


def quarantined(traffic: list[Labelled], verdicts: list[tuple[float, str]], sender: Campaign) -> int:
    """How many of ``sender``'s messages were quarantined."""
    pairs = zip(traffic, verdicts, strict=True)
    return sum(sender_of(m) in sender.domains and v == "QUARANTINE" for m, (_, v) in pairs)


def last_quarantine(
    traffic: list[Labelled], verdicts: list[tuple[float, str]], sender: Campaign
) -> float | None:
    """Minutes from ``sender``'s first message to the last of its messages quarantined; None."""
    pairs = zip(traffic, verdicts, strict=True)
    ours = [(m.record["received_at"], v) for m, (_, v) in pairs if sender_of(m) in sender.domains]
    caught = [at for at, v in ours if v == "QUARANTINE"]
    return round((caught[-1] - ours[0][0]).total_seconds() / 60, 1) if caught else None


def auc_of(scores: list[float], labels: list[bool]) -> float:
    """The area under the ROC curve (Mann-Whitney U, ties counted half)."""
    s, y = np.asarray(scores), np.asarray(labels, dtype=bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if not positives or not negatives:
        return float("nan")
    _, inverse, sizes = np.unique(s, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(sizes) - (sizes - 1) / 2)[inverse]
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


Built = tuple[list[tuple[str, str, date, int, int]], date, list[tuple[str, str, int, int]]]
"""A build's tiles, as ``counters.write_build`` takes them: its days, the day it ran through, its windows."""


def handmade(today: date, client: Any) -> tuple[ModelArtifact, Built]:
    """The simulator's hand-made model, over a build through yesterday that counted nothing."""
    from trustpipe_sensors.handmade_model import artifact

    built: Built = ([], today - timedelta(days=1), [])
    counters.write_build(client, *built)
    return artifact(SEED), built


def trained(midnight: datetime, scale: float, client: Any) -> tuple[ModelArtifact, Built]:
    """The nightly build over yesterday's 24 hours (local Spark), its tiles written to ``client``."""
    from bench.p8_model_build import _write_history
    from spark_jobs import build_model
    from spark_jobs.session import local_session

    with tempfile.TemporaryDirectory(prefix="bench-p12-") as tmp:
        folder = Path(tmp)
        (folder / "m").mkdir()
        (folder / "l").mkdir()
        messages, labels = _write_history(folder, 24, scale, midnight - timedelta(days=1))
        spark = local_session("bench-p12", "local[2]", shuffle_partitions=4)
        try:
            result = build_model.run(
                spark,
                [str(p) for p in messages],
                [str(p) for p in labels],
                ["yesterday"],
                None,
                trained_at=midnight,
                until=midnight,
                count_tiles=True,
            )
        finally:
            spark.stop()
    assert result.tiles is not None
    built: Built = (list(result.tiles.days), result.tiles.through, list(result.tiles.windows))
    counters.write_build(client, *built)
    return result.artifact, built
