"""The landing bucket: which sensor files an hour holds, and reading them through the codec."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trustpipe import contracts, layout, s3
from trustpipe.codec import CodecError, ContainerReader, Record


@dataclass(frozen=True)
class LandedFile:
    """One sensor file as read back."""

    key: str
    enterprise_id: str
    schema_version: int | None
    records: int
    bytes: int


@dataclass(frozen=True)
class Rejected:
    """A landing object that could not be read, with why."""

    key: str
    reason: str


@dataclass
class HourInventory:
    files: list[LandedFile] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)


def enterprise_of(key: str) -> str:
    for part in key.split("/"):
        if part.startswith("enterprise="):
            return part.removeprefix("enterprise=")
    return "unknown"


def hour_keys(
    client: Any, bucket: str, hour: datetime, prefix: str = layout.LANDING_PREFIX
) -> Iterator[dict[str, Any]]:
    """Every object of ``hour`` under ``prefix`` (sensor files by default, or labels), all enterprises."""
    for enterprise_prefix in s3.list_prefixes(client, bucket, prefix):
        enterprise = enterprise_of(enterprise_prefix)
        yield from s3.list_objects(client, bucket, layout.landing_hour_prefix(enterprise, hour, prefix))


def read_records(body: bytes) -> tuple[int | None, Iterator[Record]]:
    """(sensor schema version, records resolved to the v4 reader schema) of one file."""
    reader = ContainerReader(io.BytesIO(body), contracts.reader_schema())
    return contracts.email_metadata_version_of(reader.writer_schema), iter(reader)


def inventory(client: Any, bucket: str, hour: datetime) -> HourInventory:
    """Read every landing file of ``hour`` through the codec; unreadable ones are set aside."""
    result = HourInventory()
    for obj in hour_keys(client, bucket, hour):
        key = obj["Key"]
        try:
            version, records = read_records(s3.get(client, bucket, key))
            count = sum(1 for _ in records)
        except CodecError as err:
            result.rejected.append(Rejected(key, f"{type(err).__name__}: {err}"))
            continue
        result.files.append(LandedFile(key, enterprise_of(key), version, count, obj["Size"]))
    return result


def landed_hours(client: Any, bucket: str) -> list[datetime]:
    """Every hour that has at least one landing object, any enterprise, oldest first."""
    hours = set()
    for enterprise in s3.list_prefixes(client, bucket, layout.LANDING_PREFIX):
        for date in s3.list_prefixes(client, bucket, enterprise):
            for hour in s3.list_prefixes(client, bucket, date):
                day = date.rstrip("/").rsplit("date=", 1)[-1]
                hh = hour.rstrip("/").rsplit("hour=", 1)[-1]
                hours.add(layout.parse_hour(f"{day}T{hh}"))
    return sorted(hours)
