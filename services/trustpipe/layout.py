"""Hours and object keys: every key and prefix of the data lake, in one place.

landing (sensor files, by enterprise/date/hour/quarter), ground truth (labels beside them, never in
the sensor's data), review labels (reviewers' decisions, by enterprise and day decided), set
aside (landing objects the job could not read, with a reason file), scored (messages, stats and
the manifest of an hour) and models (versioned artifacts, a pointer to the current one).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from trustpipe.errors import UserError

HOUR_FORMAT = "%Y-%m-%dT%H"
QUARTERS = 4
QUARTER = timedelta(minutes=15)
LANDING_PREFIX = "messages/"
LABELS_PREFIX = "ground_truth/"
REVIEW_LABELS_PREFIX = "review_labels/"
"""Reviewers' decisions, one object each (``trustpipe.review_labels``), in the archive bucket
beside the simulator's ground truth."""
SET_ASIDE_PREFIX = "set_aside/"
"""Landing objects the scoring job could not read, moved here with a ``.reason.json`` beside them."""
REASON_SUFFIX = ".reason.json"
SCORED_PREFIX = "scored/"
MANIFEST = "_manifest.json"
"""Written last in an hour's scored prefix: its presence means the hour's output is complete."""
MODELS_PREFIX = "models/"
STREAM_RUNS_PREFIX = "stream_runs/"
"""What each stream run of the sensors produced: counts and ground truth, to reconcile against."""
CURRENT_MODEL_KEY = f"{MODELS_PREFIX}current.json"


class HourError(UserError, ValueError):
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


def quarter_of(at: datetime) -> datetime:
    """The start of the quarter ``at`` falls in (a sensor's drop)."""
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


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


def review_labels_day_prefix(enterprise_id: str, day: date) -> str:
    """One enterprise's review decisions of one UTC day."""
    return f"{REVIEW_LABELS_PREFIX}enterprise={enterprise_id}/date={day:%Y-%m-%d}/"


def review_label_key(enterprise_id: str, message_digest: str, decided_at: datetime, decision: str) -> str:
    """One decision: by enterprise and the day it was made, then the message (its id's digest:
    no character of a hostile id reaches a key), the time to the millisecond and the decision."""
    at = decided_at.astimezone(UTC)
    return (
        f"{review_labels_day_prefix(enterprise_id, at.date())}{message_digest}/"
        f"{at:%Y%m%dT%H%M%S}.{at.microsecond // 1000:03d}Z-{decision}.avro"
    )


def stream_run_key(run_id: str) -> str:
    """The manifest of one stream run of the sensors (counts per enterprise)."""
    return f"{STREAM_RUNS_PREFIX}run={run_id}/manifest.json"


def stream_labels_key(run_id: str, enterprise_id: str) -> str:
    """The ground truth of one enterprise's messages in a stream run."""
    return f"{STREAM_RUNS_PREFIX}run={run_id}/{enterprise_id}-labels.avro"


def stream_set_aside_key(group: str, shard_id: str, first_sequence: str) -> str:
    """Records a stream worker set aside, by the first one's position: a redelivered batch
    rewrites the same object instead of adding a second."""
    return f"{SET_ASIDE_PREFIX}stream/{group}/shard={shard_id}/{first_sequence}.jsonl"


def search_set_aside_key(object_key: str, etag: str) -> str:
    """Where the indexer keeps what it could not index of one scored object version (archive
    bucket, JSON lines: the object's reason, or each refused row's): a redelivery rewrites it."""
    return f"{SET_ASIDE_PREFIX}search/{object_key}@{etag}.jsonl"


def set_aside_key(key: str) -> str:
    """Where a landing object the job could not read is moved (same bucket)."""
    return f"{SET_ASIDE_PREFIX}{key}"


def set_aside_records_prefix(hour: datetime) -> str:
    """Single records the scoring job set aside from readable files of ``hour`` (JSON lines, one
    record's landing key, claimed enterprise, message id and reason a line)."""
    return f"{SET_ASIDE_PREFIX}records/date={hour:%Y-%m-%d}/hour={hour:%H}/"


def set_aside_records_key(hour: datetime, n: int) -> str:
    return f"{set_aside_records_prefix(hour)}part-{n:05d}.jsonl"


def scored_hour_prefix(hour: datetime) -> str:
    """One hour's scoring output: ``messages/part-*.avro``, ``stats/stats.avro``, the manifest."""
    return f"{SCORED_PREFIX}date={hour:%Y-%m-%d}/hour={hour:%H}/"


def scored_part_key(hour: datetime, n: int) -> str:
    return f"{scored_hour_prefix(hour)}messages/part-{n:05d}.avro"


def stats_key(hour: datetime) -> str:
    return f"{scored_hour_prefix(hour)}stats/stats.avro"


def report_prefix(hour: datetime) -> str:
    """The hour's report (index.html and its pictures), beside its scored output."""
    return f"{scored_hour_prefix(hour)}report/"


def manifest_key(hour: datetime) -> str:
    return scored_hour_prefix(hour) + MANIFEST


def model_key(version: str) -> str:
    return f"{MODELS_PREFIX}{version}/model.json"


def enterprise_of(key: str) -> str:
    """The ``enterprise=`` partition of a landing, labels or set-aside key ("unknown" if none)."""
    for part in key.split("/"):
        if part.startswith("enterprise="):
            return part.removeprefix("enterprise=")
    return "unknown"
