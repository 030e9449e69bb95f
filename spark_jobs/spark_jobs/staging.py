"""The job's edge with S3: an hour's landing files, validated, staged to local disk; bad ones
moved to a quarantine prefix with a reason file. On EMR the files are validated the same way but
not copied: Spark reads them where they are (s3://)."""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustpipe import landing, layout, s3
from trustpipe.codec import CodecError, ContainerReader

QUARANTINE_PREFIX = "quarantine/"


@dataclass(frozen=True)
class StagedFile:
    key: str
    path: str
    """Where Spark reads the file: a local path, or s3://bucket/key when staged in place."""
    enterprise_id: str
    schema_version: int
    records: int


@dataclass(frozen=True)
class SetAside:
    """A landing object that could not be read: where it went and why."""

    key: str
    enterprise_id: str
    reason: str
    records_readable: int


@dataclass
class StagedHour:
    files: list[StagedFile] = field(default_factory=list)
    set_aside: list[SetAside] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.files]


def quarantine_key(key: str) -> str:
    return f"{QUARANTINE_PREFIX}{key}"


UNKNOWN_VERSION = 0
"""sensor_schema_version of a writer schema the v4 reader resolves but that is none of ours."""


def _validate(body: bytes) -> tuple[int, int]:
    """(sensor schema version, records) of a file the v4 reader can read; CodecError otherwise."""
    version, records = landing.read_records(body)
    return version or UNKNOWN_VERSION, sum(1 for _ in records)


def _readable(body: bytes) -> int:
    """Records decodable before the failure (a lower bound of what was set aside)."""
    count = 0
    try:
        for _ in ContainerReader(io.BytesIO(body)):
            count += 1
    except (CodecError, ValueError):
        pass
    return count


def stage_hour(client: Any, bucket: str, hour: datetime, workdir: Path | None) -> StagedHour:
    """Validate every landing file of ``hour``, quarantine what cannot be read, and copy the rest
    to ``workdir`` (or, with no workdir, leave them in place for a cluster that reads s3://)."""
    staged = StagedHour(set_aside=_already_quarantined(client, bucket, hour))
    if workdir:
        workdir.mkdir(parents=True, exist_ok=True)
    for obj in landing.hour_keys(client, bucket, hour):
        key = obj["Key"]
        body = s3.get(client, bucket, key)
        enterprise = landing.enterprise_of(key)
        try:
            version, records = _validate(body)
        except CodecError as err:
            reason = f"{type(err).__name__}: {err}"
            entry = SetAside(key, enterprise, reason, _readable(body))
            _quarantine(client, bucket, key, body, entry)
            staged.set_aside.append(entry)
            continue
        if workdir:
            path = workdir / f"{len(staged.files):05d}-{enterprise}.avro"
            path.write_bytes(body)
            where = str(path)
        else:
            where = f"s3://{bucket}/{key}"
        staged.files.append(StagedFile(key, where, enterprise, version, records))
    return staged


def _quarantine(client: Any, bucket: str, key: str, body: bytes, entry: SetAside) -> None:
    """Move the object under quarantine/ with a reason file beside it; the original goes last."""
    target = quarantine_key(key)
    reason = {**asdict(entry), "quarantined_at": datetime.now(UTC).isoformat()}
    s3.put(client, bucket, target, body)
    s3.put(client, bucket, f"{target}.reason.json", json.dumps(reason, indent=1).encode())
    client.delete_object(Bucket=bucket, Key=key)


def _already_quarantined(client: Any, bucket: str, hour: datetime) -> list[SetAside]:
    """Objects an earlier run of this hour set aside (a rerun reports them again)."""
    found = []
    for enterprise_prefix in s3.list_prefixes(client, bucket, f"{QUARANTINE_PREFIX}messages/"):
        enterprise = landing.enterprise_of(enterprise_prefix)
        prefix = quarantine_key(layout.landing_hour_prefix(enterprise, hour))
        for obj in s3.list_objects(client, bucket, prefix):
            if obj["Key"].endswith(".reason.json"):
                entry = json.loads(s3.get(client, bucket, obj["Key"]))
                found.append(
                    SetAside(
                        entry["key"],
                        entry["enterprise_id"],
                        entry["reason"],
                        entry["records_readable"],
                    )
                )
    return found
