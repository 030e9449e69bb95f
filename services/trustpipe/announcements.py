"""SQS bodies the importer and the indexer receive: S3 event notifications of the scored bucket,
wrapped in an SNS envelope (one topic, a queue per consumer)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from trustpipe.errors import PermanentError

TEST_EVENT = "s3:TestEvent"


class MalformedEventError(PermanentError, ValueError):
    """An SQS body that is not an S3 event notification: it is set aside, never imported."""


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str
    etag: str
    size: int


def parse(body: str) -> list[ObjectCreated]:
    """The objects an SQS body announces; [] for S3's test event. MalformedEventError when malformed."""
    try:
        outer = json.loads(body)
        inner: Any = json.loads(outer["Message"]) if outer.get("Type") == "Notification" else outer
    except (json.JSONDecodeError, TypeError, KeyError, AttributeError) as err:
        raise MalformedEventError(f"not an SNS/S3 notification: {err}") from err
    if not isinstance(inner, dict):
        raise MalformedEventError("notification message is not a JSON object")
    if inner.get("Event") == TEST_EVENT:
        return []
    try:
        return [
            ObjectCreated(
                bucket=r["s3"]["bucket"]["name"],
                # S3 URL-encodes keys in events ('+' for spaces, %2F for slashes on some paths).
                key=unquote_plus(r["s3"]["object"]["key"]),
                etag=str(r["s3"]["object"].get("eTag", "")).strip('"'),
                size=int(r["s3"]["object"].get("size", 0)),
            )
            for r in inner["Records"]
            if str(r.get("eventName", "")).startswith("ObjectCreated")
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise MalformedEventError(f"S3 event without bucket/key: {err!r}") from err
