"""The job's edge with S3: an hour's landing files, judged by the one landing reader (within
``codec.LANDING_LIMITS``), staged to local disk; the ones it cannot read moved to the set-aside
prefix with a reason file. On EMR the judged bytes are staged under the job's s3:// work prefix
instead, and Spark reads them there: never the landing object itself, which its sensor may
replace after it was judged. Spark reads nothing that was not judged."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustpipe import landing, layout, s3
from trustpipe.codec import LANDING_LIMITS, ContainerLimits
from trustpipe.landing import SetAside


@dataclass(frozen=True)
class StagedFile:
    key: str
    path: str
    """Where Spark reads the file: a local path, or s3://bucket/key under the work prefix."""
    enterprise_id: str
    schema_version: int
    records: int


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

    def by_file_name(self) -> dict[str, StagedFile]:
        """Each staged file by the name Spark reports for it (``_metadata.file_name``)."""
        return {f.path.rsplit("/", 1)[-1]: f for f in self.files}


def stage_hour(
    client: Any,
    bucket: str,
    hour: datetime,
    workdir: Path | str,
    served: frozenset[str] | None = None,
    limits: ContainerLimits = LANDING_LIMITS,
) -> StagedHour:
    """Judge every landing file of ``hour``, set aside what cannot be read (or lies under an
    enterprise not in ``served``, when given), and write the rest as judged to ``workdir``: a
    local directory, or an s3://bucket/prefix for a cluster."""
    staged = StagedHour(set_aside=_already_set_aside(client, bucket, hour))
    if isinstance(workdir, Path):
        workdir.mkdir(parents=True, exist_ok=True)
    for landed in landing.read_hour(client, bucket, hour, served, limits):
        found = landed.verdict
        if isinstance(found, SetAside) or landed.body is None:
            assert isinstance(found, SetAside)  # only an object set aside unread has no body
            _move_aside(client, bucket, landed.body, found)
            staged.set_aside.append(found)
            continue
        where = _stage(client, workdir, f"{len(staged.files):05d}-{found.enterprise_id}.avro", landed.body)
        staged.files.append(
            StagedFile(found.key, where, found.enterprise_id, found.schema_version, found.records)
        )
    return staged


def _stage(client: Any, workdir: Path | str, name: str, body: bytes) -> str:
    """Write the judged bytes where Spark will read them; their path or s3:// URI."""
    if isinstance(workdir, Path):
        (workdir / name).write_bytes(body)
        return str(workdir / name)
    work_bucket, _, prefix = workdir.removeprefix("s3://").partition("/")
    key = f"{prefix.rstrip('/')}/{name}"
    s3.put(client, work_bucket, key, body)
    return f"s3://{work_bucket}/{key}"


def _move_aside(client: Any, bucket: str, body: bytes | None, entry: SetAside) -> None:
    """Move the object under set_aside/ with a reason file beside it; the original goes last. An
    object too large to read (no body) is copied by S3 itself, in parts."""
    target = layout.set_aside_key(entry.key)
    reason = {**asdict(entry), "set_aside_at": datetime.now(UTC).isoformat()}
    if body is None:
        client.copy({"Bucket": bucket, "Key": entry.key}, bucket, target)
    else:
        s3.put(client, bucket, target, body)
    s3.put(client, bucket, target + layout.REASON_SUFFIX, json.dumps(reason, indent=1).encode())
    client.delete_object(Bucket=bucket, Key=entry.key)


def _already_set_aside(client: Any, bucket: str, hour: datetime) -> list[SetAside]:
    """Objects an earlier run of this hour set aside (a rerun reports them again)."""
    found = []
    for enterprise_prefix in s3.list_prefixes(client, bucket, layout.set_aside_key(layout.LANDING_PREFIX)):
        enterprise = layout.enterprise_of(enterprise_prefix)
        prefix = layout.set_aside_key(layout.landing_hour_prefix(enterprise, hour))
        for obj in s3.list_objects(client, bucket, prefix):
            if obj["Key"].endswith(layout.REASON_SUFFIX):
                entry = json.loads(s3.get(client, bucket, obj["Key"]))
                found.append(
                    SetAside(entry["key"], entry["enterprise_id"], entry["reason"], entry["records_readable"])
                )
    return found
