"""The indexer's error path for scored objects: what it could not index of one object version,
as JSON lines in the archive bucket (``layout.search_set_aside_key``), each with its reason."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from trustpipe import layout, s3
from trustpipe_search.indexing import Refused

KEPT_CHARS = 2_000


def _line(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, default=str, ensure_ascii=True).encode() + b"\n"


def keep_object(client: Any, bucket: str, key: str, etag: str, reason: str) -> str:
    """The whole object set aside, with its reason; the key written."""
    where = layout.search_set_aside_key(key, etag)
    s3.put(client, bucket, where, _line({"object_key": key, "etag": etag, "reason": reason}))
    return where


def keep_rows(client: Any, bucket: str, key: str, etag: str, refused: Sequence[Refused]) -> str:
    """Rows of an object the index refused, each with its position and reason; the key written."""
    where = layout.search_set_aside_key(key, etag)
    body = b"".join(
        _line(
            {
                "object_key": key,
                "etag": etag,
                "row_position": r.position,
                "enterprise_id": str(r.row.get("enterprise_id", ""))[:KEPT_CHARS],
                "message_id": str(r.row.get("message_id", ""))[:KEPT_CHARS],
                "reason": r.reason,
            }
        )
        for r in refused
    )
    s3.put(client, bucket, where, body)
    return where
