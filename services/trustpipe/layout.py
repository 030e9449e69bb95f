"""Hours and object keys: the data lake's partitioning, shared by producers and consumers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

HOUR_FORMAT = "%Y-%m-%dT%H"
QUARTERS = 4
QUARTER = timedelta(minutes=15)
LANDING_PREFIX = "messages/"
LABELS_PREFIX = "ground_truth/"


class HourError(ValueError):
    """A data hour is malformed."""


def parse_hour(text: str) -> datetime:
    """``YYYY-MM-DDTHH`` (UTC) -> the hour's start as an aware datetime."""
    try:
        return datetime.strptime(text, HOUR_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError) as err:
        raise HourError(f"hour {text!r} is not of the form YYYY-MM-DDTHH, e.g. 2026-11-26T13") from err


def format_hour(hour: datetime) -> str:
    return hour.astimezone(UTC).strftime(HOUR_FORMAT)


def quarter_starts(hour: datetime) -> list[datetime]:
    """The four 15-minute drop windows of an hour."""
    return [hour + QUARTER * q for q in range(QUARTERS)]


def _partition(enterprise_id: str, start: datetime) -> str:
    return f"enterprise={enterprise_id}/date={start:%Y-%m-%d}/hour={start:%H}/quarter={start.minute // 15}"


def landing_key(enterprise_id: str, quarter_start: datetime) -> str:
    """Key of one sensor drop: partitioned by enterprise, date, hour and quarter."""
    return (
        f"{LANDING_PREFIX}{_partition(enterprise_id, quarter_start)}/"
        f"{enterprise_id}-{quarter_start:%Y%m%dT%H%M}.avro"
    )


def landing_hour_prefix(enterprise_id: str, hour: datetime, prefix: str = LANDING_PREFIX) -> str:
    """One enterprise's hour under ``prefix`` (sensor files, or their labels)."""
    return f"{prefix}enterprise={enterprise_id}/date={hour:%Y-%m-%d}/hour={hour:%H}/"


def labels_key(enterprise_id: str, quarter_start: datetime) -> str:
    """Key of the ground truth for one sensor drop (kept apart from the sensor's data)."""
    return (
        f"{LABELS_PREFIX}{_partition(enterprise_id, quarter_start)}/"
        f"{enterprise_id}-{quarter_start:%Y%m%dT%H%M}-labels.avro"
    )
