"""Small S3 helpers over a boto3 client (passed in)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from trustpipe.errors import PermanentError


def put(s3: Any, bucket: str, key: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body)


class ObjectTooLargeError(PermanentError):
    """An object is larger than its reader's cap; it was not read."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(f"the object is {size} bytes; the cap is {max_bytes}")
        self.size = size


def get(s3: Any, bucket: str, key: str, max_bytes: int | None = None) -> bytes:
    """The object's body; with ``max_bytes``, ObjectTooLargeError past it, read no further than
    the cap (the size is checked before the body is read, and again while reading, in case the
    object was replaced meanwhile)."""
    response = s3.get_object(Bucket=bucket, Key=key)
    body = response["Body"]
    if max_bytes is None:
        data: bytes = body.read()
        return data
    size = int(response.get("ContentLength") or 0)
    if size <= max_bytes:
        data = body.read(max_bytes + 1)
        size = len(data)
    body.close()
    if size > max_bytes:
        raise ObjectTooLargeError(size, max_bytes)
    return data


def list_objects(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every object under ``prefix`` (Key, Size, ETag...), across pages."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def list_prefixes(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The 'folders' directly below ``prefix``."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
    return [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
