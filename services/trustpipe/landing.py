"""The landing bucket: which sensor files an hour holds, and the one reader that validates them.

Every consumer of an hour's landing files (the scoring job's staging, `trustpipe landing
inspect`, the demo) reads them through ``read_hour``: each object is decoded through the codec
with the v4 reader schema and comes back either as a ``LandedFile`` (readable; its records
counted) or as a ``SetAside`` (unreadable, with the reason and how many records could be read
before the fault). What the caller then does with a set-aside object (report it, or move it to
the set-aside prefix) is the caller's business.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trustpipe import contracts, layout, s3
from trustpipe.codec import CodecError, ContainerReader, Record
from trustpipe.tenants import UnknownEnterpriseError

UNKNOWN_VERSION = 0
"""Schema version of a writer schema the v4 reader resolves but that is none of the sensors'."""


@dataclass(frozen=True)
class LandedFile:
    """One readable sensor file."""

    key: str
    enterprise_id: str
    schema_version: int
    records: int
    bytes: int


@dataclass(frozen=True)
class SetAside:
    """A landing object that could not be read: why, and the records decodable before the fault."""

    key: str
    enterprise_id: str
    reason: str
    records_readable: int


@dataclass(frozen=True)
class Landed:
    """One object of an hour as read: the body and what the reader made of it."""

    body: bytes
    verdict: LandedFile | SetAside


@dataclass
class HourInventory:
    files: list[LandedFile] = field(default_factory=list)
    set_aside: list[SetAside] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)


def hour_keys(
    client: Any, bucket: str, hour: datetime, prefix: str = layout.LANDING_PREFIX
) -> Iterator[dict[str, Any]]:
    """Every object of ``hour`` under ``prefix`` (sensor files by default, or labels), all enterprises."""
    for enterprise_prefix in s3.list_prefixes(client, bucket, prefix):
        enterprise = layout.enterprise_of(enterprise_prefix)
        yield from s3.list_objects(client, bucket, layout.landing_hour_prefix(enterprise, hour, prefix))


def read_records(body: bytes) -> tuple[int, Iterator[Record]]:
    """(sensor schema version, records resolved to the v4 reader schema) of one file."""
    reader = ContainerReader(io.BytesIO(body), contracts.reader_schema())
    version = contracts.email_metadata_version_of(reader.writer_schema)
    return version or UNKNOWN_VERSION, iter(reader)


def judge(key: str, body: bytes, served: frozenset[str] | None = None) -> LandedFile | SetAside:
    """Read one landing object through the codec (v4 reader): a LandedFile, or why it is set aside.
    With ``served``, an object under the prefix of an enterprise the deployment does not serve is
    set aside unread as to its content (only its sensors could have written there, and they are
    no longer ours)."""
    enterprise = layout.enterprise_of(key)
    if served is not None and enterprise not in served:
        err = UnknownEnterpriseError(f"enterprise {enterprise!r} is not served by this deployment")
        return SetAside(key, enterprise, f"{type(err).__name__}: {err}", _readable(body))
    try:
        version, records = read_records(body)
        count = sum(1 for _ in records)
    except CodecError as err:
        return SetAside(key, enterprise, f"{type(err).__name__}: {err}", _readable(body))
    return LandedFile(key, enterprise, version, count, len(body))


def _readable(body: bytes) -> int:
    """Records decodable before the fault (a lower bound of what was set aside)."""
    count = 0
    try:
        for _ in ContainerReader(io.BytesIO(body)):
            count += 1
    except (CodecError, ValueError):
        pass
    return count


def read_hour(
    client: Any, bucket: str, hour: datetime, served: frozenset[str] | None = None
) -> Iterator[Landed]:
    """Every landing object of ``hour``, read and judged (see ``judge`` for ``served``), one at a
    time (bodies are not kept)."""
    for obj in hour_keys(client, bucket, hour):
        body = s3.get(client, bucket, obj["Key"])
        yield Landed(body, judge(obj["Key"], body, served))


def inventory(client: Any, bucket: str, hour: datetime) -> HourInventory:
    """What ``hour`` holds: readable files and set-aside objects (nothing is moved)."""
    result = HourInventory()
    for landed in read_hour(client, bucket, hour):
        if isinstance(landed.verdict, SetAside):
            result.set_aside.append(landed.verdict)
        else:
            result.files.append(landed.verdict)
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
