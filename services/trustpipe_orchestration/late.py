"""Landing objects that arrive after their hour was scored: found, measured, and scored again.

An hour is scored once its landing is complete or quiet (``landing_wait``); a sensor's upload
that comes later (a sensor that was down, a retried upload) is *late*. Each hourly run looks back
``late_lookback_hours`` for hours whose manifest does not account for every object landed there
now, and scores those hours again beside its own: the scoring job replaces an hour's output under
stable names, the importers upsert it, and the alerters act once per message, so a re-run is
idempotent. An hour whose own run is still active is left to that run (its checks would count
rows that the re-run adds); the next hour's run looks again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trustpipe import landing, layout, metrics
from trustpipe.settings import Settings
from trustpipe_orchestration import checks

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class LateHour:
    """An hour already scored, and the landing objects its manifest does not account for."""

    hour: datetime
    keys: tuple[str, ...]
    minutes_after_close: float
    """How long after the hour closed the latest of ``keys`` landed."""

    @property
    def label(self) -> str:
        return layout.format_hour(self.hour)


def find_late(
    client: Any,
    settings: Settings,
    before: datetime,
    lookback_hours: int,
    active: Callable[[datetime], bool] = lambda _hour: False,
) -> list[LateHour]:
    """The hours of the ``lookback_hours`` before ``before`` that were scored (a manifest exists)
    and have landing objects their manifest neither scored nor set aside, oldest first. Hours not
    scored yet are their own runs' business; ``active`` says which hours' runs still work."""
    late = []
    for n in range(lookback_hours, 0, -1):
        hour = before - n * HOUR
        manifest = _manifest(client, settings.scored_bucket, hour)
        if manifest is None or active(hour):
            continue
        accounted = {i["key"] for i in manifest["inputs"]} | {a["key"] for a in manifest["set_aside"]}
        landed = landing.hour_keys(client, settings.landing_bucket, hour)
        objects = [o for o in landed if o["Key"] not in accounted]
        if objects:
            latest = max(o["LastModified"] for o in objects)
            minutes = max(0.0, (latest - (hour + HOUR)).total_seconds() / 60)
            late.append(LateHour(hour, tuple(sorted(o["Key"] for o in objects)), round(minutes, 1)))
    return late


def _manifest(client: Any, bucket: str, hour: datetime) -> dict[str, Any] | None:
    """The hour's manifest, or None when the hour was not scored (yet)."""
    try:
        return checks.read_manifest(client, bucket, hour)
    except checks.VerificationError:
        return None


def lateness_metrics(dag_id: str, late: list[LateHour]) -> list[dict[str, object]]:
    """What the late-landing alarm and the dashboard read: the late objects found by this run (0
    too, so the alarm sees the check ran) and how late the latest was."""
    data = [metrics.datum(metrics.LATE_OBJECTS, sum(len(h.keys) for h in late), Dag=dag_id)]
    if late:
        data.append(metrics.datum(metrics.LATE_MINUTES, max(h.minutes_after_close for h in late), Dag=dag_id))
    return data


def describe(late: list[LateHour]) -> str:
    if not late:
        return "no late landing objects"
    return "; ".join(
        f"{h.label}: {len(h.keys)} late objects (the latest {h.minutes_after_close:g} min after the hour "
        f"closed, e.g. {h.keys[0]})"
        for h in late
    )
