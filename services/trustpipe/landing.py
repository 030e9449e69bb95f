"""The landing bucket: which sensor files an hour holds, and the one reader that validates them.

Every consumer of an hour's landing files (the scoring job's staging, `trustpipe landing
inspect`, the demo) reads them through ``read_hour``: each object is decoded through the codec
with the v4 reader schema and comes back either as a ``LandedFile`` (readable; its records
counted) or as a ``SetAside`` (unreadable, with the reason and how many records could be read
before the fault). What the caller then does with a set-aside object (report it, or move it to
the set-aside prefix) is the caller's business.

Reading is bounded (``codec.LANDING_LIMITS``): an object over the size cap is set aside unread
(its size is known from the listing, and checked again as it is read), and the codec refuses a
codec off the allow-list, a block that decompresses past its cap or claims more records than its
bytes hold, a writer schema that lets a count claim unbounded work, and a file that takes longer
than its time budget. One object's budget covers every pass over it.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trustpipe import contracts, layout, s3
from trustpipe.codec import (
    LANDING_LIMITS,
    CodecError,
    ContainerLimits,
    ContainerReader,
    OversizeObjectError,
    Record,
)
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
    """One object of an hour as read: the body and what the reader made of it (no body: an object
    over the size cap, set aside unread)."""

    body: bytes | None
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


def read_records(
    body: bytes, limits: ContainerLimits = LANDING_LIMITS, deadline: float | None = None
) -> tuple[int, Iterator[Record]]:
    """(sensor schema version, records resolved to the v4 reader schema) of one file, read within
    ``limits``."""
    reader = ContainerReader(io.BytesIO(body), contracts.reader_schema(), limits, deadline)
    version = contracts.email_metadata_version_of(reader.writer_schema)
    return version or UNKNOWN_VERSION, iter(reader)


def judge(
    key: str, body: bytes, served: frozenset[str] | None = None, limits: ContainerLimits = LANDING_LIMITS
) -> LandedFile | SetAside:
    """Read one landing object through the codec (v4 reader, within ``limits``): a LandedFile, or
    why it is set aside. With ``served``, an object under the prefix of an enterprise the
    deployment does not serve is set aside unread as to its content (only its sensors could have
    written there, and they are no longer ours)."""
    enterprise = layout.enterprise_of(key)
    deadline = time.monotonic() + limits.seconds
    if served is not None and enterprise not in served:
        err = UnknownEnterpriseError(f"enterprise {enterprise!r} is not served by this deployment")
        return SetAside(key, enterprise, _reason(err), _readable(body, limits, deadline))
    if len(body) > limits.max_object_bytes:
        return too_large(key, len(body), limits)
    count = 0
    try:
        version, records = read_records(body, limits, deadline)
        for _ in records:
            count += 1
    except CodecError as err:
        readable = count or _readable(body, limits, deadline)
        return SetAside(key, enterprise, _reason(err), readable)
    return LandedFile(key, enterprise, version, count, len(body))


def too_large(key: str, size: int, limits: ContainerLimits = LANDING_LIMITS) -> SetAside:
    """The verdict on an object over the size cap, which is not read."""
    err = OversizeObjectError(f"the object is {size} bytes; the cap is {limits.max_object_bytes}")
    return SetAside(key, layout.enterprise_of(key), _reason(err), 0)


def _reason(err: Exception) -> str:
    return f"{type(err).__name__}: {err}"


def _readable(body: bytes, limits: ContainerLimits, deadline: float) -> int:
    """Records decodable before the fault, as written (a lower bound of what was set aside),
    within what is left of the object's budget."""
    count = 0
    try:
        for _ in ContainerReader(io.BytesIO(body), None, limits, deadline):
            count += 1
    except (CodecError, ValueError):
        pass
    return count


def read_hour(
    client: Any,
    bucket: str,
    hour: datetime,
    served: frozenset[str] | None = None,
    limits: ContainerLimits = LANDING_LIMITS,
) -> Iterator[Landed]:
    """Every landing object of ``hour``, read and judged (see ``judge`` for ``served``), one at a
    time (bodies are not kept). An object over the size cap is set aside unread."""
    for obj in hour_keys(client, bucket, hour):
        key = obj["Key"]
        if int(obj.get("Size") or 0) > limits.max_object_bytes:
            yield Landed(None, too_large(key, int(obj["Size"]), limits))
            continue
        try:
            body = s3.get(client, bucket, key, max_bytes=limits.max_object_bytes)
        except s3.ObjectTooLargeError as err:  # replaced by a larger one since the listing
            yield Landed(None, too_large(key, err.size, limits))
            continue
        yield Landed(body, judge(key, body, served, limits))


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
