"""A stream worker's error path in S3: the records it set aside, with their reasons, as JSON
lines under ``set_aside/stream/<group>/`` of the archive bucket (one object per batch, keyed by
its first record's position, so a redelivered batch rewrites the same object)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from trustpipe import layout, s3
from trustpipe_stream.batch import Rejected

KEPT_BYTES = 64 * 1024
"""Of each record, the first 64 KiB are kept (hex): enough to see what it was."""


def lines(shard_id: str, rejected: Sequence[Rejected]) -> bytes:
    """The rejected records as JSON lines (data in hex, with their reason and position)."""
    return b"".join(
        json.dumps(
            {
                "shard_id": shard_id,
                "sequence_number": x.record.sequence_number,
                "partition_key": x.record.partition_key,
                "reason": x.reason,
                "data_hex": x.record.data[:KEPT_BYTES].hex(),
                "bytes": len(x.record.data),
            }
        ).encode()
        + b"\n"
        for x in rejected
    )


def to_s3(client: Any, bucket: str, group: str) -> Callable[[str, Sequence[Rejected]], None]:
    """A worker's ``keep_aside``: the batch's rejected records in one object."""

    def keep_aside(shard_id: str, rejected: Sequence[Rejected]) -> None:
        key = layout.stream_set_aside_key(group, shard_id, rejected[0].record.sequence_number)
        s3.put(client, bucket, key, lines(shard_id, rejected))

    return keep_aside
