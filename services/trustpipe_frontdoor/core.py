"""The front door's pure core: who is calling (an enterprise's sensor role, or nobody we serve),
whether the request is a well-formed batch, and the records put on the raw stream stamped with
the caller's enterprise.

The caller's identity is what the platform authenticated (API Gateway's IAM authorization on
AWS, the local server's own SigV4 check locally), never anything in the body. The message id a
sensor names only spreads records over shards; the enterprise in every partition key is the
caller's. The front door does not decode the Avro records: the scorer does, and it sets aside
a record whose own ``enterprise_id`` disagrees with the one stamped here.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trustpipe import ingest, kinesis, tenants
from trustpipe.retry import Backoff

PUT_ATTEMPTS = 5
"""Tries of the records PutRecords refused (throttled): the waits add up to a few seconds, well
inside API Gateway's 30 s integration timeout."""
BACKOFF = Backoff(0.1, 2.0)
MAX_RECORD_DATA_BYTES = kinesis.KINESIS_MAX_RECORD_BYTES - tenants.KINESIS_MAX_PARTITION_KEY * 4
"""A record's data, leaving room in Kinesis's 1 MiB for the longest partition key (256
characters of up to 4 UTF-8 bytes each)."""

_ASSUMED_ROLE = re.compile(r"^arn:([\w-]+):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/[\w+=,.@-]+$")
_ROLE = re.compile(r"^arn:([\w-]+):iam::(\d{12}):role/(?:[\x21-\x7e]*/)?([\w+=,.@-]+)$")


@dataclass(frozen=True)
class Answer:
    """What the front door answers: an HTTP status and a JSON body."""

    status: int
    body: dict[str, Any]


class RequestRefused(Exception):
    """A request the front door will not take; ``status`` and the one reason why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def role_identity(arn: str) -> tuple[str, str, str] | None:
    """(partition, account, role name) of a role ARN or of an assumed-role session ARN; None for
    any other principal. A role's path is not part of its session's ARN, and role names are
    unique in an account whatever their path, so the three name one role."""
    for pattern in (_ASSUMED_ROLE, _ROLE):
        match = pattern.match(arn)
        if match:
            return match.group(1), match.group(2), match.group(3)
    return None


def enterprise_of_principal(principal_arn: str, sensor_roles: Mapping[str, str]) -> str:
    """The enterprise whose sensor role ``principal_arn`` is a session of (``sensor_roles``:
    enterprise -> its sensor role's ARN); RequestRefused(403) for anyone else."""
    caller = role_identity(principal_arn)
    if caller is not None:
        for enterprise, role_arn in sorted(sensor_roles.items()):
            if role_identity(role_arn) == caller:
                return enterprise
    raise RequestRefused(403, f"principal {principal_arn[:200]!r} is no enterprise's sensor")


def parse_body(body: bytes) -> list[tuple[bytes, str]]:
    """The (data, message id) pairs of a request body; RequestRefused with one reason when it is
    not a batch of 1 to 500 records of at most 1 MiB each (413 when the request itself is past
    API Gateway's 10 MB, which API Gateway refuses before the Lambda runs)."""
    if len(body) > ingest.API_GATEWAY_MAX_PAYLOAD_BYTES:
        raise RequestRefused(413, f"request is {len(body)} bytes, above the 10 MB payload limit")
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RequestRefused(400, f"body is not JSON: {err}") from err
    items = doc.get("records") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise RequestRefused(400, 'body must be a JSON object with a "records" list')
    if not items:
        raise RequestRefused(400, "records is empty")
    if len(items) > ingest.MAX_REQUEST_RECORDS:
        most = ingest.MAX_REQUEST_RECORDS
        raise RequestRefused(400, f"{len(items)} records; a request takes at most {most}")
    return [_record(i, item) for i, item in enumerate(items)]


def _record(i: int, item: Any) -> tuple[bytes, str]:
    if not isinstance(item, dict):
        raise RequestRefused(400, f"record {i} is not an object")
    data, message_id = item.get("data"), item.get("message_id")
    if not isinstance(data, str) or not isinstance(message_id, str):
        raise RequestRefused(400, f'record {i} needs "data" and "message_id" strings')
    if not message_id or len(message_id) > ingest.MAX_MESSAGE_ID_CHARS:
        raise RequestRefused(
            400, f"record {i}: message_id must be 1-{ingest.MAX_MESSAGE_ID_CHARS} characters"
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise RequestRefused(400, f"record {i}: data is not base64 ({err})") from err
    if not raw:
        raise RequestRefused(400, f"record {i}: data is empty")
    if len(raw) > MAX_RECORD_DATA_BYTES:
        raise RequestRefused(
            400, f"record {i}: data is {len(raw)} bytes; a record is at most {MAX_RECORD_DATA_BYTES}"
        )
    return raw, message_id


@dataclass
class RawStream:
    """PutRecords to the raw stream, retrying only the records it refused (throttling), with
    the core's capped, jittered backoff; each record's outcome, in order."""

    kinesis: Any
    stream_name: str
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    calls: int = field(default=0)

    def put(self, entries: list[tuple[bytes, str]]) -> list[dict[str, str]]:
        """``(data, partition key)`` pairs of one request (500 at most), put in calls of 5 MiB
        at most; per record ``{"sequence_number", "shard_id"}`` or ``{"error_code", "error"}``."""
        results: list[dict[str, str]] = []
        for batch in kinesis.batches(entries):
            results += self._put_retrying(batch)
        return results

    def _put_retrying(self, entries: list[tuple[bytes, str]]) -> list[dict[str, str]]:
        results: list[dict[str, str]] = [{} for _ in entries]
        pending = list(range(len(entries)))
        for attempt in range(PUT_ATTEMPTS):
            self.calls += 1
            response = self.kinesis.put_records(
                StreamName=self.stream_name,
                Records=[{"Data": entries[i][0], "PartitionKey": entries[i][1]} for i in pending],
            )
            failed = []
            for i, outcome in zip(pending, response["Records"], strict=True):
                if "ErrorCode" in outcome:
                    failed.append(i)
                    results[i] = {
                        "error_code": outcome["ErrorCode"],
                        "error": outcome.get("ErrorMessage", ""),
                    }
                else:
                    results[i] = {
                        "sequence_number": outcome["SequenceNumber"],
                        "shard_id": outcome["ShardId"],
                    }
            pending = failed
            if not pending:
                break
            if attempt + 1 < PUT_ATTEMPTS:
                self.sleep(BACKOFF.delay(attempt, self.jitter))
        return results


def handle(
    principal_arn: str,
    body: bytes,
    sensor_roles: Mapping[str, str],
    put: Callable[[list[tuple[bytes, str]]], list[dict[str, str]]],
) -> Answer:
    """One request: the caller's enterprise, the body checked, every record put with partition
    key ``tenants.partition_key(<caller's enterprise>, message id)``. 200 with each record's
    outcome (``failed_record_count`` says how many were refused after the retries: send those
    again); 403 for an unknown caller; 400 (or 413) with the reason for a body that is not a
    batch. Nothing is put unless the whole request is well formed."""
    try:
        enterprise = enterprise_of_principal(principal_arn, sensor_roles)
        records = parse_body(body)
    except RequestRefused as refused:
        return Answer(refused.status, {"message": refused.reason})
    outcomes = put([(data, tenants.partition_key(enterprise, mid)) for data, mid in records])
    answers = [{"message_id": mid, **outcome} for (_, mid), outcome in zip(records, outcomes, strict=True)]
    failed = sum("error_code" in a for a in answers)
    return Answer(200, {"enterprise_id": enterprise, "failed_record_count": failed, "records": answers})
