"""The hourly run's verification: nothing lost between landing, scoring and the manifest, and the
data-quality gate on each enterprise's volume and quarantine rate."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trustpipe import contracts, landing, layout, s3
from trustpipe.errors import RunError
from trustpipe.settings import Settings
from trustpipe_orchestration.config import QualityBands


class VerificationError(RunError):
    """The hour's output does not account for its input."""


class QualityGateError(RunError):
    """The hour's data lies outside the bands of its trailing week."""


def read_manifest(client: Any, bucket: str, hour: datetime) -> dict[str, Any]:
    key = layout.manifest_key(hour)
    try:
        return json.loads(s3.get(client, bucket, key))  # type: ignore[no-any-return]
    except client.exceptions.NoSuchKey as err:
        raise VerificationError(
            f"no manifest at s3://{bucket}/{key}: the scoring job did not finish"
        ) from err


def verify_manifest(manifest: Mapping[str, Any], landed_keys: Iterable[str]) -> dict[str, Any]:
    """Counts in equal counts out, every landed object accounted for; a summary for later checks."""
    problems = []
    hour = manifest["hour"]
    inputs = {i["key"] for i in manifest["inputs"]}
    aside = {a["key"] for a in manifest["set_aside"]}
    unaccounted = sorted(set(landed_keys) - inputs - aside)
    if unaccounted:
        problems.append(f"{len(unaccounted)} landed objects neither scored nor set aside: {unaccounted[:3]}")
    scored_in_files = sum(f["records"] for f in manifest["files"] if f["kind"] == "scored_messages")
    in_stats = sum(s["messages"] for s in manifest["stats"])
    records_aside = sum(r["records"] for r in manifest.get("rejected", []))
    counts = {
        "records in": manifest["records_in"],
        "inputs' records": sum(i["records"] for i in manifest["inputs"]),
        "records out and set aside": manifest["records_out"] + records_aside,
        "records in files and set aside": scored_in_files + records_aside,
        "messages in stats and set aside": in_stats + records_aside,
    }
    if len(set(counts.values())) > 1:
        problems.append("counts disagree: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if problems:
        raise VerificationError(f"{hour}: " + "; ".join(problems))
    return {
        "hour": hour,
        "records": manifest["records_out"],
        "files": sorted(f["key"] for f in manifest["files"]),
        "set_aside": len(aside),
        "records_set_aside": records_aside,
        "model_version": manifest["model_version"],
        "records_in": manifest["records_in"],
        "verdicts": {
            s["enterprise_id"]: {v: s[k] for v, k in contracts.STATS_COUNTERS.items()}
            for s in manifest["stats"]
        },
    }


def landed_keys(client: Any, bucket: str, hour: datetime) -> list[str]:
    return [o["Key"] for o in landing.hour_keys(client, bucket, hour)]


def verify_hour(client: Any, settings: Settings, hour: datetime) -> dict[str, Any]:
    """The hour's manifest exists and accounts for everything landed; its summary."""
    manifest = read_manifest(client, settings.scored_bucket, hour)
    return verify_manifest(manifest, landed_keys(client, settings.landing_bucket, hour))


@dataclass(frozen=True)
class HourStats:
    enterprise_id: str
    hour: str
    messages: int
    quarantined: int

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined / self.messages if self.messages else 0.0


@dataclass(frozen=True)
class GateResult:
    breaches: tuple[str, ...]
    notes: tuple[str, ...]
    enterprises: tuple[str, ...] = ()
    """The enterprises the store has stats of in the window."""


def quality_gate(
    hour: str, rows: Iterable[HourStats], bands: QualityBands, expected: Iterable[str] = ()
) -> GateResult:
    """Each enterprise's hour against its own trailing hours (``rows`` hold both)."""
    current: dict[str, HourStats] = {}
    history: dict[str, list[HourStats]] = {}
    for row in rows:
        if row.hour == hour:
            current[row.enterprise_id] = row
        elif row.hour < hour:
            history.setdefault(row.enterprise_id, []).append(row)
    breaches, notes = [], []
    for enterprise in sorted(set(history) | set(current) | set(expected)):
        past = history.get(enterprise, [])
        now = current.get(enterprise, HourStats(enterprise, hour, 0, 0))
        if len(past) < bands.min_history_hours:
            notes.append(
                f"{enterprise}: {len(past)} trailing hours, the gate needs {bands.min_history_hours}"
            )
            continue
        breaches += _breaches(now, past, bands)
    return GateResult(tuple(breaches), tuple(notes), tuple(sorted(set(history) | set(current))))


def _breaches(now: HourStats, past: list[HourStats], bands: QualityBands) -> list[str]:
    found = []
    volumes = [p.messages for p in past]
    low, high = bands.volume_low * min(volumes), bands.volume_high * max(volumes)
    if not low <= now.messages <= high:
        found.append(
            f"{now.enterprise_id}: {now.messages:,} messages, outside [{low:,.0f}, {high:,.0f}] "
            f"(trailing {len(past)} hours: {min(volumes):,} to {max(volumes):,})"
        )
    rates = [p.quarantine_rate for p in past if p.messages]
    lo_rate = max(0.0, min(rates) - bands.quarantine_margin)
    hi_rate = max(rates) + bands.quarantine_margin
    if now.messages and not lo_rate <= now.quarantine_rate <= hi_rate:
        found.append(
            f"{now.enterprise_id}: quarantine rate {now.quarantine_rate:.1%}, outside "
            f"[{lo_rate:.1%}, {hi_rate:.1%}] "
            f"(trailing {len(past)} hours: {min(rates):.1%} to {max(rates):.1%})"
        )
    return found


def trailing_window(hour: datetime, bands: QualityBands) -> tuple[str, str]:
    """The [first, last] hour labels the gate reads (the hour itself included)."""
    return layout.format_hour(hour - timedelta(hours=bands.trailing_hours)), layout.format_hour(hour)


GATE_SQL = (
    "SELECT enterprise_id, hour, messages, quarantined FROM scoring_stats "
    "WHERE hour BETWEEN %(first)s AND %(last)s"
)
